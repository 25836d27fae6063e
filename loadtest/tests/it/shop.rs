//! A seeded shop for one test, started in process as the end-to-end tests start it:
//! every service real, each `Config` read from an environment of its own, on its own
//! databases, broker prefix and cache prefixes.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use futures::FutureExt;
use platform::config::Env;
use sqlx::PgPool;
use testkit::{TestBroker, TestCache, TestDatabase};
use tokio_util::sync::CancellationToken;

pub(crate) const REALM: &str = "ironvessel";
/// An upper bound for asynchronous outcomes, generous for a loaded CI machine; polls
/// return as soon as the outcome is there.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

type MigrateFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>>;

fn migrate_identity(pool: &PgPool) -> MigrateFuture<'_> {
    async move { identity::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

fn migrate_account(pool: &PgPool) -> MigrateFuture<'_> {
    async move { account::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

fn migrate_inventory(pool: &PgPool) -> MigrateFuture<'_> {
    async move { inventory::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

fn migrate_payment(pool: &PgPool) -> MigrateFuture<'_> {
    async move { payment::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

fn migrate_order(pool: &PgPool) -> MigrateFuture<'_> {
    async move { order::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

fn env(prefix: &str, vars: Vec<(&str, String)>) -> Env {
    let map: HashMap<String, String> = vars
        .into_iter()
        .map(|(name, value)| (format!("{prefix}_{name}"), value))
        .collect();
    Env::with_lookup(prefix, move |name| map.get(name).cloned())
}

/// The running shop; everything stops when it is dropped.
pub(crate) struct Shop {
    pub(crate) gateway: String,
    /// The seeded plan.
    pub(crate) plan: seeder::Plan,
    shutdown: CancellationToken,
    databases: Vec<TestDatabase>,
    _broker: TestBroker,
    caches: Vec<TestCache>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Knobs of a test.
#[derive(Debug)]
pub(crate) struct Knobs {
    /// Databases loaded by the seeder with this plan before the services start.
    pub(crate) seed: seeder::Plan,
    /// Inventory's product cache (`INVENTORY_CACHE_ENABLED`).
    pub(crate) inventory_cache: bool,
    /// Inventory evicts on writes (`INVENTORY_CACHE_EVICTION`; off only to show that
    /// the staleness check fails).
    pub(crate) inventory_eviction: bool,
}

impl Knobs {
    /// A shop seeded with `plan`, caching as deployed.
    pub(crate) fn seeded(plan: seeder::Plan) -> Self {
        Self {
            seed: plan,
            inventory_cache: true,
            inventory_eviction: true,
        }
    }
}

fn spawn<F>(shutdown: &CancellationToken, run: impl FnOnce(CancellationToken) -> F)
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(run(shutdown.clone()));
}

impl Shop {
    pub(crate) async fn start(knobs: Knobs) -> Self {
        platform::telemetry::init_for_tests();
        let shutdown = CancellationToken::new();
        let broker = TestBroker::new().await;
        let amqp_url = broker.url.clone();
        let cache = TestCache::new("account").await;
        let inventory_cache = TestCache::new("inventory").await;
        let payment_cache = TestCache::new("payment").await;
        let order_cache = TestCache::new("order").await;

        let identity_db = TestDatabase::create(
            "identity",
            &platform::postgres::schema_fingerprint(&identity::postgres::MIGRATOR),
            migrate_identity,
        )
        .await
        .expect("identity database");
        let account_db = TestDatabase::create(
            "account",
            &platform::postgres::schema_fingerprint(&account::postgres::MIGRATOR),
            migrate_account,
        )
        .await
        .expect("account database");
        let inventory_db = TestDatabase::create(
            "inventory",
            &platform::postgres::schema_fingerprint(&inventory::postgres::MIGRATOR),
            migrate_inventory,
        )
        .await
        .expect("inventory database");
        let payment_db = TestDatabase::create(
            "payment",
            &platform::postgres::schema_fingerprint(&payment::postgres::MIGRATOR),
            migrate_payment,
        )
        .await
        .expect("payment database");
        let order_db = TestDatabase::create(
            "orders",
            &platform::postgres::schema_fingerprint(&order::postgres::MIGRATOR),
            migrate_order,
        )
        .await
        .expect("order database");
        {
            let plan = &knobs.seed;
            // Loaded before any service starts, as on a fresh deployment.
            let targets = seeder::Targets::from_urls(&[
                (seeder::Service::Identity, identity_db.url.as_str()),
                (seeder::Service::Account, account_db.url.as_str()),
                (seeder::Service::Inventory, inventory_db.url.as_str()),
                (seeder::Service::Order, order_db.url.as_str()),
                (seeder::Service::Payment, payment_db.url.as_str()),
            ])
            .expect("seeder targets");
            seeder::run(plan, &targets, &seeder::RunOptions::default())
                .await
                .expect("seeded");
        }
        let identity_config = identity::config::Config::for_tests(&identity_db.url);
        let identity = identity::startup::App::build(identity_config)
            .await
            .expect("identity builds");
        let idp_url = identity.base_url().to_owned();
        let issuer = identity.issuer(REALM);
        let jwks = identity.auth_config(REALM).jwks_url;
        spawn(&shutdown, |s| identity.run(s));

        let account_cache_prefix = cache.prefix.clone();
        let auth = |issuer: &str, jwks: &str| {
            vec![
                ("AUTH_ISSUER", issuer.to_owned()),
                ("AUTH_JWKS_URL", jwks.to_owned()),
                ("AUTH_AUDIENCE", "ironvessel".to_owned()),
            ]
        };
        let mut account_vars = vec![
            ("HTTP_HOST", "127.0.0.1".to_owned()),
            ("HTTP_PORT", "0".to_owned()),
            ("INSTANCE_ID", "account-lt".to_owned()),
            ("DATABASE_URL", account_db.url.clone()),
            ("AMQP_URL", amqp_url.clone()),
            ("AMQP_PREFIX", broker.prefix.clone()),
            ("REDIS_URL", cache.url.clone()),
            ("CACHE_PREFIX", cache.prefix.clone()),
            ("IDP_URL", idp_url.clone()),
            // Order and payment are not part of this test: nothing listens there.
            ("ORDER_URL", "http://127.0.0.1:1".to_owned()),
            ("PAYMENT_URL", "http://127.0.0.1:1".to_owned()),
        ];
        account_vars.extend(auth(&issuer, &jwks));
        let account_config =
            account::config::Config::from(&env("ACCOUNT", account_vars)).expect("account config");
        let account = account::startup::App::build(account_config)
            .await
            .expect("account builds");
        let account_addr: SocketAddr = account.local_addr().expect("bound");
        spawn(&shutdown, |s| account.run(s));

        let common = |db: &TestDatabase, cache: &TestCache, instance: &str| {
            let mut vars = vec![
                ("HTTP_HOST", "127.0.0.1".to_owned()),
                ("HTTP_PORT", "0".to_owned()),
                ("INSTANCE_ID", instance.to_owned()),
                ("DATABASE_URL", db.url.clone()),
                ("AMQP_URL", amqp_url.clone()),
                ("AMQP_PREFIX", broker.prefix.clone()),
                ("REDIS_URL", cache.url.clone()),
                ("CACHE_PREFIX", cache.prefix.clone()),
                ("IDP_URL", idp_url.clone()),
                ("ACCOUNT_CACHE_PREFIX", account_cache_prefix.clone()),
            ];
            vars.extend(auth(&issuer, &jwks));
            vars
        };
        let mut inventory_vars = common(&inventory_db, &inventory_cache, "inventory-lt");
        inventory_vars.push(("CACHE_ENABLED", knobs.inventory_cache.to_string()));
        inventory_vars.push(("CACHE_EVICTION", knobs.inventory_eviction.to_string()));
        let inventory_config = inventory::config::Config::from(&env("INVENTORY", inventory_vars))
            .expect("inventory config");
        let inventory = inventory::startup::App::build(inventory_config)
            .await
            .expect("inventory builds");
        let inventory_addr: SocketAddr = inventory.local_addr().expect("bound");
        spawn(&shutdown, |s| inventory.run(s));

        let payment_config = payment::config::Config::from(&env(
            "PAYMENT",
            common(&payment_db, &payment_cache, "payment-lt"),
        ))
        .expect("payment config");
        let payment = payment::startup::App::build(payment_config)
            .await
            .expect("payment builds");
        let payment_addr: SocketAddr = payment.local_addr().expect("bound");
        spawn(&shutdown, |s| payment.run(s));

        let mut order_vars = common(&order_db, &order_cache, "order-lt");
        order_vars.push(("PAYMENT_URL", format!("http://{payment_addr}")));
        let order_config =
            order::config::Config::from(&env("ORDER", order_vars)).expect("order config");
        let order = order::startup::App::build(order_config)
            .await
            .expect("order builds");
        let order_addr: SocketAddr = order.local_addr().expect("bound");
        spawn(&shutdown, |s| order.run(s));

        let mut gateway_vars = vec![
            ("HTTP_HOST", "127.0.0.1".to_owned()),
            ("HTTP_PORT", "0".to_owned()),
            ("INSTANCE_ID", "gateway-lt".to_owned()),
            ("ACCOUNT_URLS", format!("http://{account_addr}")),
            ("INVENTORY_URLS", format!("http://{inventory_addr}")),
            ("PAYMENT_URLS", format!("http://{payment_addr}")),
            ("ORDER_URLS", format!("http://{order_addr}")),
            ("IDENTITY_URLS", idp_url.clone()),
            (
                "IDENTITY_HEALTH_PATH",
                format!("/realms/{REALM}/.well-known/openid-configuration"),
            ),
            ("HEALTH_INTERVAL_MS", "200".to_owned()),
            // Every virtual user logs in from this one address.
            ("RATE_LIMIT_PER_SECOND", "10000".to_owned()),
            ("RATE_LIMIT_BURST", "10000".to_owned()),
        ];
        gateway_vars.extend(auth(&issuer, &jwks));
        let gateway_config =
            gateway::config::Config::from(&env("GATEWAY", gateway_vars)).expect("gateway config");
        let gateway = gateway::startup::App::build(gateway_config)
            .await
            .expect("gateway builds");
        let gateway_addr: SocketAddr = gateway.local_addr().expect("bound");
        spawn(&shutdown, |s| gateway.run(s));

        // As a deployment's readiness gates traffic: every service has its database, its
        // cache and the broker (topology declared) before the test sends a request.
        let client = reqwest::Client::new();
        for addr in [account_addr, inventory_addr, payment_addr, order_addr] {
            testkit::until_ready(&client, &format!("http://{addr}"), DEADLINE).await;
        }

        Self {
            gateway: format!("http://{gateway_addr}"),
            plan: knobs.seed,
            shutdown,
            databases: vec![identity_db, account_db, inventory_db, payment_db, order_db],
            _broker: broker,
            caches: vec![cache, inventory_cache, payment_cache, order_cache],
        }
    }

    /// The database of `service` (`identity`, `account`, `inventory`, `payment`, `orders`).
    pub(crate) fn database(&self, service: &str) -> &TestDatabase {
        self.databases
            .iter()
            .find(|db| db.name.starts_with(&format!("iv_test_{service}_")))
            .unwrap_or_else(|| panic!("no {service} database"))
    }

    /// Inventory's cache (Redis URL and key prefix).
    pub(crate) fn inventory_cache(&self) -> &TestCache {
        &self.caches[1]
    }
}
