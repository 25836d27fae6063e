//! The schemas the seeder loads into, and its own bookkeeping.
//!
//! The service tables are created by the services' own migrations (the seeder never
//! repeats their DDL). Before a load into empty tables, their indexes and key
//! constraints are dropped and their definitions (as Postgres prints them) recorded in
//! `seeder_run`, in the same transaction; they are rebuilt from that record after the
//! load, which is much faster than maintaining them row by row and survives a kill.

use anyhow::Context as _;
use identity::ports::IdentityStore as _;
use serde::{Deserialize, Serialize};
use sqlx::{Executor as _, PgConnection, PgPool};

use crate::target::Service;

/// The tables the seeder fills, per service, parents before children.
pub fn tables(service: Service) -> &'static [&'static str] {
    match service {
        Service::Identity => &["user_entity"],
        Service::Account => &["address"],
        Service::Inventory => &["product"],
        Service::Payment => &[
            "customer",
            "cart",
            "cart_product",
            "payment",
            "payment_product",
        ],
        Service::Order => &["orders"],
    }
}

/// Runs the service's own migrations (the platform's outbox and inbox included).
pub async fn migrate(service: Service, pool: &PgPool) -> anyhow::Result<()> {
    match service {
        Service::Identity => identity::postgres::migrate(pool).await,
        Service::Account => account::postgres::migrate(pool).await,
        Service::Inventory => inventory::postgres::migrate(pool).await,
        Service::Order => order::postgres::migrate(pool).await,
        Service::Payment => payment::postgres::migrate(pool).await,
    }
    .with_context(|| format!("running the {service} migrations"))
}

/// The realm file identity ships, built into the binary so a container needs no copy.
const REALM_FILE: &str = include_str!("../../services/identity/realms/ironvessel-realm.json");

/// Makes sure the realm seeded users belong to exists, saving it with identity's own
/// code when identity has never started on this database (its users are left to
/// identity's own import).
pub async fn ensure_realm(pool: &PgPool) -> anyhow::Result<()> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM realm WHERE name = $1)")
        .bind(crate::generate::REALM)
        .fetch_one(pool)
        .await?;
    if exists {
        return Ok(());
    }
    let import = identity::domain::realm_export::parse(
        REALM_FILE,
        &|name| std::env::var(name).ok(),
        chrono::Utc::now().timestamp_millis(),
    )
    .context("parsing identity's realm file")?;
    identity::postgres::PgIdentityStore::new(pool.clone())
        .save_realm(&import.realm)
        .await
        .context("saving the realm")?;
    Ok(())
}

/// The seeder's own tables, in every database it loads.
const BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS seeder_run (
    fingerprint   TEXT PRIMARY KEY,
    plan          JSONB       NOT NULL,
    chunk_size    BIGINT      NOT NULL,
    password_hash TEXT,
    dropped       JSONB       NOT NULL DEFAULT '[]',
    state         TEXT        NOT NULL CHECK (state IN ('loading', 'finished')),
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS seeder_progress (
    fingerprint TEXT        NOT NULL,
    stream      TEXT        NOT NULL,
    chunk       BIGINT      NOT NULL,
    rows        BIGINT      NOT NULL,
    done_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (fingerprint, stream, chunk)
);";

/// Creates the bookkeeping tables if needed.
pub async fn create_bookkeeping(pool: &PgPool) -> anyhow::Result<()> {
    pool.execute(BOOKKEEPING)
        .await
        .context("creating seeder_run and seeder_progress")?;
    Ok(())
}

/// Whether the bookkeeping tables exist.
pub async fn has_bookkeeping(conn: &mut PgConnection) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT to_regclass('seeder_run') IS NOT NULL")
            .fetch_one(conn)
            .await?,
    )
}

/// What kind of object was dropped, which decides the rebuild order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A primary-key or unique constraint.
    Key,
    /// An index that belongs to no constraint.
    Index,
    /// A foreign key (rebuilt last: it needs the keys it references).
    ForeignKey,
}

/// A dropped index or constraint and the statement that rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// The table it belongs to.
    pub table: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: ObjectKind,
    /// The statement that rebuilds it (for a key: its unique index).
    pub create: String,
    /// For a key: the statement that turns the rebuilt index into the constraint.
    #[serde(default)]
    pub attach: Option<String>,
}

/// Drops the indexes, keys and foreign keys of `tables` (foreign keys from or to them),
/// inside the caller's transaction; returns what it dropped.
pub async fn drop_indexes(tx: &mut PgConnection, tables: &[&str]) -> anyhow::Result<Vec<Dropped>> {
    let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
    // A key is rebuilt as its unique index (which builds alongside the table's other
    // indexes), then attached as the constraint, which is instant.
    let constraints: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname, c.contype::text,
                CASE WHEN c.contype = 'f'
                     THEN format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass,
                                 c.conname, pg_get_constraintdef(c.oid))
                     ELSE pg_get_indexdef(c.conindid) END,
                CASE WHEN c.contype = 'f' THEN NULL
                     ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s USING INDEX %I',
                                 c.conrelid::regclass, c.conname,
                                 CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END,
                                 c.conname) END
         FROM pg_constraint c
         WHERE c.contype IN ('p', 'u', 'f')
           AND (c.conrelid::regclass::text = ANY($1) OR c.confrelid::regclass::text = ANY($1))
         ORDER BY c.contype = 'f' DESC, c.conname",
    )
    .bind(&tables)
    .fetch_all(&mut *tx)
    .await
    .context("reading the constraints")?;
    let mut dropped = Vec::new();
    for (table, name, kind, create, attach) in constraints {
        tx.execute(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {}",
            quote(&name)
        )))
        .await
        .with_context(|| format!("dropping {name} on {table}"))?;
        dropped.push(Dropped {
            table,
            name,
            kind: if kind == "f" {
                ObjectKind::ForeignKey
            } else {
                ObjectKind::Key
            },
            create,
            attach,
        });
    }
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT i.indrelid::regclass::text, c.relname::text, pg_get_indexdef(i.indexrelid)
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid::regclass::text = ANY($1)
         ORDER BY c.relname",
    )
    .bind(&tables)
    .fetch_all(&mut *tx)
    .await
    .context("reading the indexes")?;
    for (table, name, create) in indexes {
        tx.execute(sqlx::AssertSqlSafe(format!("DROP INDEX {}", quote(&name))))
            .await
            .with_context(|| format!("dropping index {name} on {table}"))?;
        dropped.push(Dropped {
            table,
            name,
            kind: ObjectKind::Index,
            create,
            attach: None,
        });
    }
    Ok(dropped)
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Whether a dropped object is back (so a rebuild interrupted by a kill can resume).
pub async fn exists(conn: &mut PgConnection, object: &Dropped) -> anyhow::Result<bool> {
    let query = match object.kind {
        ObjectKind::Index => "SELECT to_regclass(quote_ident($2)) IS NOT NULL",
        ObjectKind::Key | ObjectKind::ForeignKey => {
            "SELECT EXISTS (SELECT 1 FROM pg_constraint
                            WHERE conrelid = to_regclass($1) AND conname = $2)"
        }
    };
    Ok(sqlx::query_scalar(query)
        .bind(&object.table)
        .bind(&object.name)
        .fetch_one(conn)
        .await?)
}

/// Rebuilds one dropped object (for a key: only its index, see [`attach`]) unless it is
/// already back.
pub async fn rebuild(
    conn: &mut PgConnection,
    object: &Dropped,
    maintenance_work_mem: &str,
) -> anyhow::Result<()> {
    if exists(conn, object).await? {
        return Ok(());
    }
    if object.attach.is_some() {
        let index: bool = sqlx::query_scalar("SELECT to_regclass(quote_ident($1)) IS NOT NULL")
            .bind(&object.name)
            .fetch_one(&mut *conn)
            .await?;
        if index {
            return Ok(());
        }
    }
    // Index builds sort in maintenance_work_mem; a foreign key's validation is a join
    // that hashes in work_mem.
    sqlx::query(
        "SELECT set_config('maintenance_work_mem', $1, false), set_config('work_mem', $1, false)",
    )
    .bind(maintenance_work_mem)
    .execute(&mut *conn)
    .await?;
    conn.execute(sqlx::AssertSqlSafe(object.create.clone()))
        .await
        .with_context(|| format!("rebuilding {} on {}", object.name, object.table))?;
    Ok(())
}

/// Turns a rebuilt key index into its constraint, unless that is done already.
pub async fn attach(conn: &mut PgConnection, object: &Dropped) -> anyhow::Result<()> {
    let Some(statement) = &object.attach else {
        return Ok(());
    };
    if exists(conn, object).await? {
        return Ok(());
    }
    conn.execute(sqlx::AssertSqlSafe(statement.clone()))
        .await
        .with_context(|| format!("attaching {} to {}", object.name, object.table))?;
    Ok(())
}

/// Moves every `id` sequence past the largest id, so the services' inserts go on after
/// the seeded rows (tables without an `id` column are skipped).
pub async fn advance_sequences(pool: &PgPool, service: Service) -> anyhow::Result<()> {
    for table in tables(service) {
        // Line tables are keyed by owner and product: no `id`, no sequence.
        let sequence: Option<Option<String>> = sqlx::query_scalar(
            "SELECT pg_get_serial_sequence($1, 'id') FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id'",
        )
        .bind(table)
        .fetch_optional(pool)
        .await?;
        if sequence.flatten().is_none() {
            continue;
        }
        pool.execute(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id))
             FROM {table} HAVING max(id) IS NOT NULL"
        )))
        .await
        .with_context(|| format!("advancing the id sequence of {table}"))?;
    }
    Ok(())
}

/// Refreshes the planner's statistics of the seeded tables.
pub async fn analyze(pool: &PgPool, service: Service) -> anyhow::Result<()> {
    let list = tables(service).join(", ");
    pool.execute(sqlx::AssertSqlSafe(format!("ANALYZE {list}")))
        .await
        .with_context(|| format!("analysing {list}"))?;
    Ok(())
}

/// Which seeded tables of `service` hold rows (a missing table holds none).
pub async fn non_empty_tables(
    conn: &mut PgConnection,
    service: Service,
) -> anyhow::Result<Vec<&'static str>> {
    let mut non_empty = Vec::new();
    for table in tables(service) {
        let present: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut *conn)
            .await?;
        if !present {
            continue;
        }
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table})"
        )))
        .fetch_one(&mut *conn)
        .await?;
        if any {
            non_empty.push(*table);
        }
    }
    Ok(non_empty)
}
