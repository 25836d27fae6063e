//! The seeder against real Postgres: every test loads into databases of its own
//! (created from the services' migrated templates, or blank) and drops them afterwards.

mod helpers;
mod load;
mod resume;
mod safety;
mod services;
mod verify;
