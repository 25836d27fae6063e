//! Scratch databases for the five services, and ways to look into them.

use std::{collections::BTreeMap, future::Future, pin::Pin, time::Duration};

use seeder::{Plan, RunOptions, Service, Targets, VerifyOptions};
use sqlx::PgPool;
use testkit::TestDatabase;

/// Generous for a loaded 2-core CI machine; polls return as soon as they can.
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);

type Migrate = fn(&PgPool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>>;

fn migrate_identity(
    pool: &PgPool,
) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { identity::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_account(pool: &PgPool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { account::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_inventory(
    pool: &PgPool,
) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { inventory::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_order(pool: &PgPool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { order::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_payment(pool: &PgPool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { payment::postgres::migrate(pool).await.map_err(Into::into) })
}
fn nothing(_: &PgPool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async { Ok(()) })
}

fn migration(service: Service) -> (Migrate, String) {
    let (migrate, migrator): (Migrate, &sqlx::migrate::Migrator) = match service {
        Service::Identity => (migrate_identity, &identity::postgres::MIGRATOR),
        Service::Account => (migrate_account, &account::postgres::MIGRATOR),
        Service::Inventory => (migrate_inventory, &inventory::postgres::MIGRATOR),
        Service::Order => (migrate_order, &order::postgres::MIGRATOR),
        Service::Payment => (migrate_payment, &payment::postgres::MIGRATOR),
    };
    (migrate, platform::postgres::schema_fingerprint(migrator))
}

/// Five databases of one test, dropped with it.
pub(crate) struct Scratch {
    databases: Vec<(Service, TestDatabase)>,
    pub(crate) targets: Targets,
}

impl Scratch {
    /// Databases with the services' schemas, as the services leave them.
    pub(crate) async fn migrated() -> Self {
        let mut databases = Vec::new();
        for service in Service::ALL {
            let (migrate, fingerprint) = migration(service);
            let name = format!("seeder_{}", service.name());
            databases.push((
                service,
                TestDatabase::create(&name, &fingerprint, migrate)
                    .await
                    .expect("scratch database"),
            ));
        }
        Self::of(databases)
    }

    /// Empty databases: the seeder has to run the migrations itself.
    pub(crate) async fn blank() -> Self {
        let mut databases = Vec::new();
        for service in Service::ALL {
            let db = TestDatabase::create("seeder_blank", "0000000000000000", nothing)
                .await
                .expect("blank database");
            databases.push((service, db));
        }
        Self::of(databases)
    }

    fn of(databases: Vec<(Service, TestDatabase)>) -> Self {
        let urls: Vec<(Service, &str)> = databases
            .iter()
            .map(|(s, db)| (*s, db.url.as_str()))
            .collect();
        let targets = Targets::from_urls(&urls).expect("targets");
        Self { databases, targets }
    }

    pub(crate) fn url(&self, service: Service) -> &str {
        &self
            .databases
            .iter()
            .find(|(s, _)| *s == service)
            .expect("every service")
            .1
            .url
    }

    pub(crate) async fn pool(&self, service: Service) -> PgPool {
        self.databases
            .iter()
            .find(|(s, _)| *s == service)
            .expect("every service")
            .1
            .pool()
            .await
    }

    /// `SEEDER_*_DATABASE_URL` for the binary.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        Service::ALL
            .iter()
            .map(|s| {
                (
                    format!("SEEDER_{}_DATABASE_URL", s.name().to_uppercase()),
                    self.url(*s).to_owned(),
                )
            })
            .collect()
    }

    /// Checksums per table, verified.
    pub(crate) async fn checksums(&self) -> BTreeMap<String, (i64, String)> {
        let verification = seeder::verify(
            &self.targets,
            &VerifyOptions {
                checksum: true,
                ..VerifyOptions::default()
            },
        )
        .await
        .expect("verify runs");
        assert!(verification.passed(), "{verification}");
        verification
            .checksums
            .into_iter()
            .map(|c| {
                (
                    format!("{}.{}", c.service.name(), c.table),
                    (c.rows, c.checksum),
                )
            })
            .collect()
    }

    /// Rows in a table.
    pub(crate) async fn count(&self, service: Service, table: &str) -> i64 {
        let pool = self.pool(service).await;
        let count =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .expect("count");
        pool.close().await;
        count
    }

    /// Whether any database holds the seeder's bookkeeping.
    pub(crate) async fn has_bookkeeping(&self) -> bool {
        for service in Service::ALL {
            let pool = self.pool(service).await;
            let exists: bool = sqlx::query_scalar("SELECT to_regclass('seeder_run') IS NOT NULL")
                .fetch_one(&pool)
                .await
                .expect("query");
            pool.close().await;
            if exists {
                return true;
            }
        }
        false
    }

    /// Index and constraint definitions of the seeded tables, per database.
    pub(crate) async fn schema_objects(&self) -> Vec<String> {
        let mut objects = Vec::new();
        for service in Service::ALL {
            let pool = self.pool(service).await;
            let tables: Vec<String> = seeder::schema::tables(service)
                .iter()
                .map(|t| (*t).to_owned())
                .collect();
            let mut found: Vec<String> = sqlx::query_scalar(
                "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
                 FROM pg_constraint WHERE conrelid::regclass::text = ANY($1)
                 UNION ALL
                 SELECT tablename || ' ' || indexdef FROM pg_indexes WHERE tablename = ANY($1)",
            )
            .bind(&tables)
            .fetch_all(&pool)
            .await
            .expect("schema");
            pool.close().await;
            found.sort();
            objects.extend(found.into_iter().map(|o| format!("{service}: {o}")));
        }
        objects
    }
}

/// Options for a quiet test run.
pub(crate) fn options(jobs: usize) -> RunOptions {
    RunOptions {
        jobs,
        chunk_size: 150,
        ..RunOptions::default()
    }
}

/// A plan small enough for a debug build on two cores, with every kind of row.
pub(crate) fn tiny_plan(seed: u64) -> Plan {
    Plan::with_counts(seed, 400, 40, 1_200)
}
