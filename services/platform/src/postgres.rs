//! Postgres pools and migrations.
//!
//! Every service database holds the platform's tables (outbox, inbox), tracked in
//! `_platform_migrations`, and the service's own, tracked in sqlx's `_sqlx_migrations`,
//! so neither migrator trips over the other's versions.

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::{DatabaseConfig, expose};

/// The platform's own migrations (outbox and inbox).
pub static PLATFORM_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pool that connects lazily: the service starts (and reports not-ready) while the
/// database is down, and recovers by itself when it returns.
pub fn pool(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = expose(&config.url).parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        // Check connections before use, so a pool that lived through a database
        // restart hands out working connections.
        .test_before_acquire(true)
        .connect_lazy_with(options))
}

/// Runs the platform's migrations, then the service's.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> Result<(), MigrateError> {
    let mut platform = Migrator::with_migrations(PLATFORM_MIGRATOR.iter().cloned().collect());
    platform.dangerous_set_table_name("_platform_migrations");
    platform.run(pool).await?;
    service.run(pool).await
}

/// A fingerprint of the schema the migrators produce (for test template databases).
pub fn schema_fingerprint(service: &Migrator) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in PLATFORM_MIGRATOR.iter().chain(service.iter()) {
        for byte in migration.checksum.iter() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Whether `err` means "the database is not reachable right now" (as opposed to a bug
/// in our SQL, which surfaces as `sqlx::Error::Database`). Transport-level protocol
/// errors count as unreachable: a host that accepts and drops connections answers the
/// TLS negotiation with garbage.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
    )
}
