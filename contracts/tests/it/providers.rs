//! The real providers, started in-process for one test as a deployment would run them:
//! each service's `Config` is read from an environment of its own, with a database,
//! broker prefix and cache prefix of the test's own, and tokens from a [`TestIdp`].

use std::{
    collections::HashMap, future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration,
};

use platform::config::Env;
use sqlx::PgPool;
use testkit::{TestBroker, TestCache, TestDatabase, TestIdp, until_ready};
use tokio_util::sync::CancellationToken;

/// An upper bound for asynchronous outcomes on a loaded CI machine; polls return as soon
/// as the outcome is there.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

type MigrateFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

fn migrate_identity(pool: &PgPool) -> MigrateFuture<'_> {
    Box::pin(async move { identity::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_account(pool: &PgPool) -> MigrateFuture<'_> {
    Box::pin(async move { account::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_inventory(pool: &PgPool) -> MigrateFuture<'_> {
    Box::pin(async move { inventory::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_payment(pool: &PgPool) -> MigrateFuture<'_> {
    Box::pin(async move { payment::postgres::migrate(pool).await.map_err(Into::into) })
}
fn migrate_order(pool: &PgPool) -> MigrateFuture<'_> {
    Box::pin(async move { order::postgres::migrate(pool).await.map_err(Into::into) })
}

/// A service of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Identity,
    Account,
    Inventory,
    Payment,
    Order,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Account => "account",
            Self::Inventory => "inventory",
            Self::Payment => "payment",
            Self::Order => "order",
        }
    }
}

/// A fresh, migrated database of `service`'s schema.
pub(crate) async fn database(service: Service) -> TestDatabase {
    let (name, fingerprint, migrate): (&str, String, testkit::isolation::Migrate) = match service {
        Service::Identity => (
            "identity",
            identity::postgres::schema_fingerprint(),
            migrate_identity,
        ),
        Service::Account => (
            "account",
            platform::postgres::schema_fingerprint(&account::postgres::MIGRATOR),
            migrate_account,
        ),
        Service::Inventory => (
            "inventory",
            platform::postgres::schema_fingerprint(&inventory::postgres::MIGRATOR),
            migrate_inventory,
        ),
        Service::Payment => (
            "payment",
            platform::postgres::schema_fingerprint(&payment::postgres::MIGRATOR),
            migrate_payment,
        ),
        Service::Order => (
            "orders",
            platform::postgres::schema_fingerprint(&order::postgres::MIGRATOR),
            migrate_order,
        ),
    };
    TestDatabase::create(name, &fingerprint, migrate)
        .await
        .expect("test database")
}

fn env(prefix: &str, vars: Vec<(&str, String)>) -> Env {
    let map: HashMap<String, String> = vars
        .into_iter()
        .map(|(name, value)| (format!("{prefix}_{name}"), value))
        .collect();
    Env::with_lookup(prefix, move |name| map.get(name).cloned())
}

/// One running provider; it stops when dropped.
pub(crate) struct Provider {
    pub(crate) service: Service,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base_url: String,
    pub(crate) pool: PgPool,
    pub(crate) broker: TestBroker,
    /// Mints tokens the provider accepts (not used by identity, which mints its own).
    pub(crate) idp: Option<Arc<TestIdp>>,
    shutdown: CancellationToken,
    _cache: TestCache,
    // Dropped last: the database outlives the service's pool.
    _db: TestDatabase,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Provider {
    /// Starts `service` on port 0 and waits until it is ready.
    pub(crate) async fn start(service: Service) -> Self {
        platform::telemetry::init_for_tests();
        let db = database(service).await;
        let broker = TestBroker::new().await;
        let cache = TestCache::new(service.name()).await;
        let shutdown = CancellationToken::new();
        let (addr, idp): (SocketAddr, Option<Arc<TestIdp>>) = if service == Service::Identity {
            let app = identity::startup::App::build(identity::config::Config::for_tests(&db.url))
                .await
                .expect("identity builds");
            let addr = app.local_addr().expect("bound");
            tokio::spawn(app.run(shutdown.clone()));
            (addr, None)
        } else {
            let idp = TestIdp::start().await;
            let auth = idp.auth_config();
            let vars = vec![
                ("HTTP_HOST", "127.0.0.1".to_owned()),
                ("HTTP_PORT", "0".to_owned()),
                ("INSTANCE_ID", format!("{}-contracts", service.name())),
                ("DATABASE_URL", db.url.clone()),
                ("AMQP_URL", broker.url.clone()),
                ("AMQP_PREFIX", broker.prefix.clone()),
                ("REDIS_URL", cache.url.clone()),
                ("CACHE_PREFIX", cache.prefix.clone()),
                ("ACCOUNT_CACHE_PREFIX", format!("{}:account", cache.prefix)),
                ("AUTH_ISSUER", auth.issuer.clone()),
                ("AUTH_JWKS_URL", auth.jwks_url.clone()),
                ("AUTH_AUDIENCE", auth.audience.clone()),
                // Nothing listens there: the contracts under test do not reach further.
                ("IDP_URL", "http://127.0.0.1:1".to_owned()),
                ("ORDER_URL", "http://127.0.0.1:1".to_owned()),
                ("PAYMENT_URL", "http://127.0.0.1:1".to_owned()),
            ];
            let addr = match service {
                Service::Account => {
                    let config =
                        account::config::Config::from(&env("ACCOUNT", vars)).expect("config");
                    let app = account::startup::App::build(config)
                        .await
                        .expect("account builds");
                    let addr = app.local_addr().expect("bound");
                    tokio::spawn(app.run(shutdown.clone()));
                    addr
                }
                Service::Inventory => {
                    let config =
                        inventory::config::Config::from(&env("INVENTORY", vars)).expect("config");
                    let app = inventory::startup::App::build(config)
                        .await
                        .expect("inventory builds");
                    let addr = app.local_addr().expect("bound");
                    tokio::spawn(app.run(shutdown.clone()));
                    addr
                }
                Service::Payment => {
                    let config =
                        payment::config::Config::from(&env("PAYMENT", vars)).expect("config");
                    let app = payment::startup::App::build(config)
                        .await
                        .expect("payment builds");
                    let addr = app.local_addr().expect("bound");
                    tokio::spawn(app.run(shutdown.clone()));
                    addr
                }
                Service::Order => {
                    let config = order::config::Config::from(&env("ORDER", vars)).expect("config");
                    let app = order::startup::App::build(config)
                        .await
                        .expect("order builds");
                    let addr = app.local_addr().expect("bound");
                    tokio::spawn(app.run(shutdown.clone()));
                    addr
                }
                Service::Identity => unreachable!("handled above"),
            };
            (addr, Some(Arc::new(idp)))
        };
        let base_url = format!("http://{addr}");
        until_ready(&reqwest::Client::new(), &base_url, DEADLINE).await;
        let pool = db.pool().await;
        Self {
            service,
            base_url,
            pool,
            broker,
            idp,
            shutdown,
            _cache: cache,
            _db: db,
        }
    }

    /// The token issuer the provider trusts.
    pub(crate) fn tokens(&self) -> Arc<TestIdp> {
        self.idp
            .clone()
            .expect("services other than identity trust a TestIdp")
    }

    /// A MANAGER token the provider accepts.
    pub(crate) fn manager_token(&self) -> String {
        self.idp
            .as_ref()
            .expect("services other than identity trust a TestIdp")
            .manager("3f7a1c2e-5b9d-4e8f-a6c1-0d2b4e6f8a90")
    }
}
