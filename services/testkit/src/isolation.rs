//! Per-test isolation: a database, a broker prefix and a cache prefix of its own, all
//! removed when the test's handle is dropped, so tests run in parallel and leave
//! nothing behind.

use std::{future::Future, pin::Pin};

use lapin::{
    Connection, ConnectionProperties,
    options::{ExchangeDeleteOptions, QueueDeleteOptions},
};
use sqlx::{Connection as _, Executor, PgConnection, PgPool, postgres::PgConnectOptions};
use uuid::Uuid;

use crate::infra::infra;

/// Runs a service's migrations on a pool.
pub type Migrate =
    for<'a> fn(&'a PgPool) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// A database of one's own, cloned from a template that holds the service's migrated schema.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// A URL to it.
    pub url: String,
    admin_url: String,
}

fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url)?;
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.to_string())
}

impl TestDatabase {
    /// Creates `iv_test_<service>_<uuid>` from the template `iv_tmpl_<service>_<fingerprint>`,
    /// building the template with `migrate` the first time.
    pub async fn create(
        service: &str,
        fingerprint: &str,
        migrate: Migrate,
    ) -> anyhow::Result<Self> {
        let admin_url = infra().await.database_url.clone();
        let template = format!(
            "iv_tmpl_{service}_{}",
            &fingerprint[..fingerprint.len().min(16)]
        );
        let name = format!("iv_test_{service}_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await?;
        // Serialise template creation and cloning across test processes.
        admin.execute("SELECT pg_advisory_lock(727274)").await?;
        let result = async {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&template)
                    .fetch_one(&mut admin)
                    .await?;
            if !exists {
                let building = format!("{template}_building");
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
                    )))
                    .await?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "CREATE DATABASE \"{building}\""
                    )))
                    .await?;
                let pool = PgPool::connect(&with_database(&admin_url, &building)?).await?;
                migrate(&pool).await?;
                pool.close().await;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
                    )))
                    .await?;
            }
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                )))
                .await?;
            anyhow::Ok(())
        }
        .await;
        admin.execute("SELECT pg_advisory_unlock(727274)").await?;
        result?;
        Ok(Self {
            url: with_database(&admin_url, &name)?,
            name,
            admin_url,
        })
    }

    /// A new pool on the database.
    pub async fn pool(&self) -> PgPool {
        let options: PgConnectOptions = self.url.parse().expect("valid test database URL");
        PgPool::connect_with(options)
            .await
            .expect("test database reachable")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        cleanup(async move {
            let mut admin = PgConnection::connect(&admin_url).await?;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await?;
            anyhow::Ok(())
        });
    }
}

/// An exchange and queue name prefix of one's own; the topology is deleted on drop.
#[derive(Debug)]
pub struct TestBroker {
    /// The AMQP URL.
    pub url: String,
    /// The prefix, e.g. `t1a2b3c4d.`.
    pub prefix: String,
}

impl TestBroker {
    /// A fresh prefix.
    pub async fn new() -> Self {
        Self {
            url: infra().await.amqp_url.clone(),
            prefix: format!("t{}.", &Uuid::new_v4().simple().to_string()[..10]),
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        cleanup(async move {
            let connection = Connection::connect(&url, ConnectionProperties::default()).await?;
            let (exchanges, queues) = platform::messaging::topology::all_names(&prefix);
            for queue in queues {
                // A fresh channel per delete: a failed delete closes its channel.
                let channel = connection.create_channel().await?;
                let _ = channel
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await;
            }
            for exchange in exchanges {
                let channel = connection.create_channel().await?;
                let _ = channel
                    .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                    .await;
            }
            let _ = connection.close(200, "test done".into()).await;
            anyhow::Ok(())
        });
    }
}

/// A cache key prefix of one's own; its keys are deleted on drop.
#[derive(Debug)]
pub struct TestCache {
    /// The Redis URL.
    pub url: String,
    /// The prefix, e.g. `t1a2b3c4d:inventory`.
    pub prefix: String,
}

impl TestCache {
    /// A fresh prefix for `service`.
    pub async fn new(service: &str) -> Self {
        Self {
            url: infra().await.redis_url.clone(),
            prefix: format!("t{}:{service}", &Uuid::new_v4().simple().to_string()[..10]),
        }
    }
}

impl Drop for TestCache {
    fn drop(&mut self) {
        let url = self.url.clone();
        let pattern = format!("{}:*", self.prefix);
        cleanup(async move {
            let client = redis::Client::open(url)?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
            }
            anyhow::Ok(())
        });
    }
}

/// Runs async cleanup from `Drop` on a thread of its own (a test's runtime may be
/// shutting down), and waits for it. Cleanup failures are printed, not raised.
fn cleanup(work: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(work)
    });
    match handle.join() {
        Ok(Ok(())) => {}
        Ok(Err(err)) => eprintln!("test cleanup failed: {err:#}"),
        Err(_) => eprintln!("test cleanup panicked"),
    }
}
