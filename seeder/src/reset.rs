//! `seeder reset`: empties the seeded tables of every database and removes the seeder's
//! bookkeeping, after rebuilding whatever an interrupted run had dropped, so the schema
//! is whole again. It writes, so a remote host must be confirmed like for `run`.

use std::sync::Arc;

use anyhow::Context as _;
use sqlx::Executor as _;
use tokio::sync::Semaphore;

use crate::{
    load::{Databases, rebuild_all},
    schema::{self, Dropped},
    target::{self, Safety, Service, Targets},
};

/// Empties the seeded tables (demo data and the identity users included) and drops
/// `seeder_run` and `seeder_progress`; the services re-import their realm and demo data
/// when they next start.
pub async fn reset(targets: &Targets, safety: &Safety) -> anyhow::Result<()> {
    target::check(targets, safety, true)?;
    let databases = Databases::connect(targets, 3).await?;
    let result = async {
        for service in Service::ALL {
            reset_database(&databases, service).await.with_context(|| {
                format!(
                    "resetting the {service} database ({})",
                    databases.target(service)
                )
            })?;
        }
        anyhow::Ok(())
    }
    .await;
    databases.close().await;
    result
}

async fn reset_database(databases: &Databases, service: Service) -> anyhow::Result<()> {
    let pool = databases.pool(service);
    let mut conn = pool.acquire().await?;
    if schema::has_bookkeeping(&mut conn).await? {
        let dropped: Vec<sqlx::types::Json<Vec<Dropped>>> =
            sqlx::query_scalar("SELECT dropped FROM seeder_run WHERE state = 'loading'")
                .fetch_all(&mut *conn)
                .await?;
        let permits = Arc::new(Semaphore::new(2));
        for sqlx::types::Json(objects) in dropped {
            rebuild_all(pool, &objects, &permits, "64MB").await?;
        }
    }
    let mut present = Vec::new();
    for table in schema::tables(service) {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut *conn)
            .await?;
        if exists {
            present.push(*table);
        }
    }
    if !present.is_empty() {
        conn.execute(sqlx::AssertSqlSafe(format!(
            "TRUNCATE {} RESTART IDENTITY",
            present.join(", ")
        )))
        .await?;
    }
    conn.execute("DROP TABLE IF EXISTS seeder_progress, seeder_run")
        .await?;
    Ok(())
}
