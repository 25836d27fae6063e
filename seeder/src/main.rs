//! The seeder (work in progress).

fn main() {}
