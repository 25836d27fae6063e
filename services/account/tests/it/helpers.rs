//! Spawning the service for a test, and talking to it, to its fakes and to the broker.

use std::{net::SocketAddr, time::Duration};

use account::{
    config::{Config, DownstreamConfig},
    startup::App,
};
use futures::FutureExt;
use lapin::{Channel, Connection, ConnectionProperties, options::BasicGetOptions};
use platform::{
    config::{AmqpConfig, CacheConfig, DatabaseConfig, HttpConfig},
    resilience::ResilienceConfig,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use testkit::{TestBroker, TestCache, TestDatabase, TestIdp};
use tokio_util::sync::CancellationToken;
use wiremock::MockServer;

use crate::fake_keycloak::{FakeKeycloak, IdpSettings, TOMMY, VADER};

/// An upper bound for asynchronous outcomes, generous for a loaded CI machine; polls
/// return as soon as the outcome is there.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// The queue payment reads `address.primary-saved` from (unprefixed).
pub(crate) const PRIMARY_SAVED_QUEUE: &str = "payment.address.primary-saved";

fn migrate(
    pool: &PgPool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + '_>> {
    async move { account::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

/// Overrides for particular tests.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Another identity provider than the fake Keycloak the test starts.
    pub(crate) idp: Option<IdpSettings>,
    /// Timeout and breaker of the order and payment calls.
    pub(crate) downstream: Option<ResilienceConfig>,
    /// Timeout and breaker of the identity-provider calls.
    pub(crate) idp_resilience: Option<ResilienceConfig>,
    pub(crate) redis_url: Option<String>,
}

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    /// Issues the bearer tokens callers present.
    pub(crate) idp: TestIdp,
    /// The identity provider's admin API.
    pub(crate) keycloak: FakeKeycloak,
    /// The order service (`/order/ofCustomer/{id}`); answers 404 until a test mounts a stub.
    pub(crate) orders: MockServer,
    /// The payment service (`/payment/ofCustomer/{id}`); answers 404 until a test mounts a stub.
    pub(crate) payments: MockServer,
    pub(crate) pool: PgPool,
    pub(crate) broker: TestBroker,
    _cache: TestCache,
    shutdown: CancellationToken,
    // Dropped last: the database outlives the app's pool.
    _db: TestDatabase,
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub(crate) async fn spawn_with(options: Options) -> Self {
        platform::telemetry::init_for_tests();
        let fingerprint = platform::postgres::schema_fingerprint(&account::postgres::MIGRATOR);
        let db = TestDatabase::create("account", &fingerprint, migrate)
            .await
            .expect("test database");
        let broker = TestBroker::new().await;
        let cache = TestCache::new("account").await;
        let idp = TestIdp::start().await;
        let keycloak = FakeKeycloak::start().await;
        let orders = MockServer::start().await;
        let payments = MockServer::start().await;
        let idp_settings = options.idp.unwrap_or_else(|| keycloak.settings());
        let config = Config {
            http: HttpConfig {
                host: "127.0.0.1".to_owned(),
                port: 0,
                body_limit_bytes: 16 * 1024,
                request_timeout: Duration::from_secs(10),
                instance_id: "account-test".to_owned(),
            },
            database: DatabaseConfig {
                url: SecretString::from(db.url.clone()),
                max_connections: 10,
                acquire_timeout: Duration::from_secs(2),
            },
            amqp: AmqpConfig {
                url: SecretString::from(broker.url.clone()),
                prefix: broker.prefix.clone(),
                prefetch: 16,
                max_attempts: 3,
                retry_base: Duration::from_millis(20),
            },
            cache: CacheConfig {
                url: SecretString::from(options.redis_url.unwrap_or_else(|| cache.url.clone())),
                prefix: cache.prefix.clone(),
                enabled: true,
                timeout: Duration::from_millis(250),
            },
            auth: idp.auth_config(),
            idp: idp_settings.config(
                options
                    .idp_resilience
                    .unwrap_or_else(|| ResilienceConfig::with_timeout(Duration::from_secs(2))),
            ),
            downstream: DownstreamConfig {
                order_url: orders.uri(),
                payment_url: payments.uri(),
                resilience: options
                    .downstream
                    .unwrap_or_else(|| ResilienceConfig::with_timeout(Duration::from_secs(1))),
            },
            seed_demo: false,
        };
        let app = App::build(config).await.expect("app builds");
        let addr: SocketAddr = app.local_addr().expect("bound");
        let pool = db.pool().await;
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            idp,
            keycloak,
            orders,
            payments,
            pool,
            broker,
            _cache: cache,
            shutdown,
            _db: db,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A CUSTOMER token for `subject`.
    pub(crate) fn customer_token(&self, subject: &str) -> String {
        self.idp.customer(subject)
    }

    /// tommy's CUSTOMER token.
    pub(crate) fn customer(&self) -> String {
        self.idp.customer(TOMMY)
    }

    /// vader's MANAGER token.
    pub(crate) fn manager(&self) -> String {
        self.idp.manager(VADER)
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(Method::GET, path, token, None).await
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    /// `/health/ready`: status and report.
    pub(crate) async fn readiness(&self) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .get(self.url("/health/ready"))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON report"))
    }

    /// Adds an address over the API and returns it.
    pub(crate) async fn add_address(&self, token: &str, name: &str, city: &str) -> Value {
        let response = self
            .send(
                Method::POST,
                "/account/address",
                token,
                Some(&serde_json::json!({"name": name, "country": "uk", "city": city, "zipCode": "26593"})),
            )
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "add {name}");
        response.json().await.expect("address")
    }

    /// The customer's addresses as stored: `(name, is_primary)` ordered by id.
    pub(crate) async fn stored(&self, customer_id: &str) -> Vec<(String, bool)> {
        sqlx::query_as("SELECT name, is_primary FROM address WHERE customer_id = $1 ORDER BY id")
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await
            .expect("addresses")
    }

    /// Events written to the outbox so far.
    pub(crate) async fn outbox(&self) -> Vec<Value> {
        sqlx::query_scalar("SELECT body FROM outbox ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("outbox")
    }

    pub(crate) fn queue(&self, name: &str) -> String {
        format!("{}{name}", self.broker.prefix)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub(crate) async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

pub(crate) fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A channel to the test's broker.
pub(crate) async fn channel(url: &str) -> (Connection, Channel) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    (connection, channel)
}

/// Takes `count` message bodies off `queue`, polling until they arrived (or panics at
/// the deadline).
pub(crate) async fn take(channel: &Channel, queue: &str, count: usize) -> Vec<Value> {
    let mut received = Vec::new();
    let started = tokio::time::Instant::now();
    while received.len() < count {
        assert!(
            started.elapsed() < DEADLINE,
            "only {} of {count} messages arrived on {queue}",
            received.len()
        );
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
        {
            Some(message) => {
                received
                    .push(serde_json::from_slice(&message.delivery.data).unwrap_or(Value::Null));
            }
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    received
}
