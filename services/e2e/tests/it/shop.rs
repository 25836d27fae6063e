//! Starting identity, account and the gateway for one test, wired as a deployment is:
//! each service's `Config` is read from an environment of its own.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use futures::FutureExt;
use platform::config::Env;
use sqlx::PgPool;
use testkit::{TcpProxy, TestBroker, TestCache, TestDatabase};
use tokio_util::sync::CancellationToken;

pub(crate) const REALM: &str = "ironvessel";
pub(crate) const TOMMY: &str = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
pub(crate) const LORNE: &str = "37a2191e-85a0-4bad-a853-1f29559c3092";
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
    pub(crate) account: String,
    /// The identity provider, directly (its admin API is not exposed by the gateway).
    pub(crate) identity: String,
    pub(crate) client: reqwest::Client,
    /// The proxy between the services and RabbitMQ, with [`Knobs::broker_proxy`].
    pub(crate) broker_proxy: Option<TcpProxy>,
    shutdown: CancellationToken,
    databases: Vec<TestDatabase>,
    _broker: TestBroker,
    _caches: Vec<TestCache>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Knobs of a test.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    pub(crate) access_token_lifespan: Option<Duration>,
    pub(crate) brute_force_wait: Option<Duration>,
    /// Every service reaches RabbitMQ through a [`TcpProxy`] the test can cut.
    pub(crate) broker_proxy: bool,
    /// Databases loaded by the seeder with this plan before the services start.
    pub(crate) seed: Option<seeder::Plan>,
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
        let broker_proxy = if knobs.broker_proxy {
            Some(
                TcpProxy::in_front_of(&broker.url)
                    .await
                    .expect("broker proxy"),
            )
        } else {
            None
        };
        let amqp_url = broker_proxy.as_ref().map_or_else(
            || broker.url.clone(),
            |proxy| proxy.url_through(&broker.url),
        );
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
        if let Some(plan) = &knobs.seed {
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
        let mut identity_config = identity::config::Config::for_tests(&identity_db.url);
        identity_config.access_token_lifespan = knobs.access_token_lifespan;
        identity_config.brute_force_wait = knobs.brute_force_wait;
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
            ("INSTANCE_ID", "account-e2e".to_owned()),
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
        let inventory_config = inventory::config::Config::from(&env(
            "INVENTORY",
            common(&inventory_db, &inventory_cache, "inventory-e2e"),
        ))
        .expect("inventory config");
        let inventory = inventory::startup::App::build(inventory_config)
            .await
            .expect("inventory builds");
        let inventory_addr: SocketAddr = inventory.local_addr().expect("bound");
        spawn(&shutdown, |s| inventory.run(s));

        let payment_config = payment::config::Config::from(&env(
            "PAYMENT",
            common(&payment_db, &payment_cache, "payment-e2e"),
        ))
        .expect("payment config");
        let payment = payment::startup::App::build(payment_config)
            .await
            .expect("payment builds");
        let payment_addr: SocketAddr = payment.local_addr().expect("bound");
        spawn(&shutdown, |s| payment.run(s));

        let mut order_vars = common(&order_db, &order_cache, "order-e2e");
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
            ("INSTANCE_ID", "gateway-e2e".to_owned()),
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
            ("RATE_LIMIT_PER_SECOND", "1000".to_owned()),
            ("RATE_LIMIT_BURST", "1000".to_owned()),
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
            account: format!("http://{account_addr}"),
            identity: idp_url,
            client,
            broker_proxy,
            shutdown,
            databases: vec![identity_db, account_db, inventory_db, payment_db, order_db],
            _broker: broker,
            _caches: vec![cache, inventory_cache, payment_cache, order_cache],
        }
    }

    /// The database of `service` (`identity`, `account`, `inventory`, `payment`, `orders`).
    pub(crate) fn database(&self, service: &str) -> &TestDatabase {
        self.databases
            .iter()
            .find(|db| db.name.starts_with(&format!("iv_test_{service}_")))
            .unwrap_or_else(|| panic!("no {service} database"))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// The token endpoint through the gateway.
    pub(crate) async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/realms/{REALM}/protocol/openid-connect/token")))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// Logs in with the password grant through the gateway; returns the whole answer.
    pub(crate) async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let response = self
            .token_request(&[
                ("grant_type", "password"),
                ("client_id", "ironvessel-web"),
                ("username", username),
                ("password", password),
            ])
            .await;
        assert_eq!(response.status(), 200, "login of {username}");
        response.json().await.expect("token JSON")
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn put(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// A request with a JSON body through the gateway.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// A new customer, created through the Keycloak admin API with the account client's
    /// service-account token (as the seeder does), logged in through the gateway.
    pub(crate) async fn new_customer(&self, username: &str) -> Customer {
        let service = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", "ironvessel-account"),
                ("client_secret", "dev-account-secret"),
            ])
            .await;
        assert_eq!(service.status(), 200, "service-account token");
        let service_token = access_token(&service.json().await.expect("token JSON"));
        let created = self
            .client
            .post(format!("{}/admin/realms/{REALM}/users", self.identity))
            .bearer_auth(&service_token)
            .json(&serde_json::json!({
                "username": username, "email": format!("{username}@example.test"),
                "firstName": username, "lastName": "Tester", "enabled": true,
                "credentials": [{"type": "password", "value": "pass-word-1", "temporary": false}],
            }))
            .send()
            .await
            .expect("create user");
        assert_eq!(created.status(), 201, "create {username}");
        let id = created.headers()["location"]
            .to_str()
            .expect("location")
            .rsplit('/')
            .next()
            .expect("id")
            .to_owned();
        let token = access_token(&self.login(username, "pass-word-1").await);
        Customer { id, token }
    }
}

/// A logged-in customer.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) token: String,
}

pub(crate) fn access_token(answer: &serde_json::Value) -> String {
    answer["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}
