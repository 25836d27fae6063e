//! Spawning the service for a test, and talking to it, to its fakes and to the broker.

use std::{net::SocketAddr, time::Duration};

use futures::FutureExt;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use order::{
    config::{Config, IdpConfig, PaymentConfig},
    startup::App,
};
use platform::{
    config::{AmqpConfig, CacheConfig, DatabaseConfig, HttpConfig},
    messaging::consumer::string_headers,
    resilience::ResilienceConfig,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{TestBroker, TestCache, TestDatabase, TestIdp};
use tokio_util::sync::CancellationToken;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

/// An upper bound for asynchronous outcomes, generous for a loaded CI machine; polls
/// return as soon as the outcome is there.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

pub(crate) const TOMMY: &str = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
pub(crate) const VADER: &str = "47ac2317-2da2-457a-90d6-48d5a0f9739a";
pub(crate) const LORNE: &str = "37a2191e-85a0-4bad-a853-1f29559c3092";

/// The realm and service client the fake Keycloak knows.
pub(crate) const REALM: &str = "ironvessel";
pub(crate) const CLIENT_ID: &str = "ironvessel-account";

fn migrate(
    pool: &PgPool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + '_>> {
    async move { order::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

/// Overrides for particular tests.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Timeout and breaker of the payment calls.
    pub(crate) payment: Option<ResilienceConfig>,
    /// Load the demo orders at start-up.
    pub(crate) seed_demo: bool,
}

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    /// Issues the bearer tokens callers present.
    pub(crate) idp: TestIdp,
    /// The identity provider's admin API (Keycloak's shapes); only the token endpoint
    /// answers until a test mounts users.
    pub(crate) keycloak: MockServer,
    /// The payment service; answers 404 until a test mounts a stub.
    pub(crate) payments: MockServer,
    pub(crate) pool: PgPool,
    pub(crate) broker: TestBroker,
    pub(crate) cache: TestCache,
    /// Stands in for account's cache prefix.
    pub(crate) account_cache: TestCache,
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
        let fingerprint = platform::postgres::schema_fingerprint(&order::postgres::MIGRATOR);
        let db = TestDatabase::create("orders", &fingerprint, migrate)
            .await
            .expect("test database");
        let broker = TestBroker::new().await;
        let cache = TestCache::new("order").await;
        let account_cache = TestCache::new("account").await;
        let idp = TestIdp::start().await;
        let keycloak = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(format!(
                "/realms/{REALM}/protocol/openid-connect/token"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "service-token", "expires_in": 300, "refresh_expires_in": 0,
                "token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"
            })))
            .mount(&keycloak)
            .await;
        let payments = MockServer::start().await;
        let config = Config {
            http: HttpConfig {
                host: "127.0.0.1".to_owned(),
                port: 0,
                body_limit_bytes: 16 * 1024,
                request_timeout: Duration::from_secs(10),
                instance_id: "order-test".to_owned(),
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
                url: SecretString::from(cache.url.clone()),
                prefix: cache.prefix.clone(),
                enabled: true,
                timeout: Duration::from_millis(250),
            },
            account_cache_prefix: account_cache.prefix.clone(),
            auth: idp.auth_config(),
            idp: IdpConfig {
                url: keycloak.uri(),
                realm: REALM.to_owned(),
                client_id: CLIENT_ID.to_owned(),
                client_secret: SecretString::from("test-secret"),
                resilience: ResilienceConfig::with_timeout(Duration::from_secs(2)),
            },
            payment: PaymentConfig {
                url: payments.uri(),
                resilience: options
                    .payment
                    .unwrap_or_else(|| ResilienceConfig::with_timeout(Duration::from_secs(1))),
            },
            seed_demo: options.seed_demo,
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
            payments,
            pool,
            broker,
            cache,
            account_cache,
            shutdown,
            _db: db,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A CUSTOMER token for `subject`.
    pub(crate) fn customer(&self, subject: &str) -> String {
        self.idp.customer(subject)
    }

    /// vader's MANAGER token.
    pub(crate) fn manager(&self) -> String {
        self.idp.manager(VADER)
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(Method::GET, path, token, None).await
    }

    pub(crate) async fn put(
        &self,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.send(Method::PUT, path, token, body.as_ref()).await
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

    /// Waits until the broker is connected and the topology declared.
    pub(crate) async fn ready(&self) {
        testkit::until_ready(&self.client, &self.base, DEADLINE).await;
    }

    /// Inserts an order directly and returns its id.
    pub(crate) async fn order(&self, customer_id: &str, payment_id: i64, status: &str) -> i64 {
        let reason = (status == "CANCELLED").then_some("DONT_NEED_ANYMORE");
        let recipient = (status == "DELIVERED").then_some("Judge Holden");
        sqlx::query_scalar(
            "INSERT INTO orders (status, customer_id, payment_id, address, cancellation_reason, recipient)
             VALUES ($1, $2, $3, '3841 birmingham, uk', $4, $5) RETURNING id",
        )
        .bind(status)
        .bind(customer_id)
        .bind(payment_id)
        .bind(reason)
        .bind(recipient)
        .fetch_one(&self.pool)
        .await
        .expect("insert order")
    }

    /// The stored row of an order: `(status, address, reason, explanation, recipient, version)`.
    pub(crate) async fn stored(&self, id: i64) -> StoredOrder {
        sqlx::query_as(
            "SELECT status, address, cancellation_reason, cancellation_explanation, recipient, version
             FROM orders WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .expect("stored order")
    }

    /// The stored orders of a payment: `(customer_id, status, address)`.
    pub(crate) async fn orders_of_payment(&self, payment_id: i64) -> Vec<(String, String, String)> {
        sqlx::query_as(
            "SELECT customer_id, status, address FROM orders WHERE payment_id = $1 ORDER BY id",
        )
        .bind(payment_id)
        .fetch_all(&self.pool)
        .await
        .expect("orders")
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

    /// Mounts `GET /admin/realms/ironvessel/users/{id}` answering a Keycloak
    /// `UserRepresentation`, for the service token only.
    pub(crate) async fn keycloak_user(&self, id: &str, first_name: &str, last_name: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/admin/realms/{REALM}/users/{id}")))
            .and(wiremock::matchers::header(
                "authorization",
                "Bearer service-token",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id, "username": "vader", "firstName": first_name, "lastName": last_name,
                "email": "vader_666@mail.com", "emailVerified": true,
                "attributes": {"birthDate": ["1980-10-23"], "phoneNumber": ["5738593748"]},
                "createdTimestamp": 1_747_386_912_345_u64, "enabled": true, "totp": false,
                "disableableCredentialTypes": [], "requiredActions": [], "notBefore": 0,
                "access": {"manageGroupMembership": true, "view": true, "mapRoles": true, "impersonate": false, "manage": true}
            })))
            .mount(&self.keycloak)
            .await;
    }

    /// Writes a value under account's cache prefix, as account would.
    pub(crate) async fn put_account_cache(&self, key: &str) -> String {
        let full = format!("{}:{key}", self.account_cache.prefix);
        let mut conn = redis_connection(&self.account_cache.url).await;
        let _: () = redis::cmd("SET")
            .arg(&full)
            .arg("[]")
            .query_async(&mut conn)
            .await
            .expect("SET");
        full
    }

    /// Whether a full Redis key exists.
    pub(crate) async fn redis_has(&self, full_key: &str) -> bool {
        let mut conn = redis_connection(&self.cache.url).await;
        let exists: i64 = redis::cmd("EXISTS")
            .arg(full_key)
            .query_async(&mut conn)
            .await
            .expect("EXISTS");
        exists == 1
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An order's row.
pub(crate) type StoredOrder = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
);

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
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

/// A publishing channel with confirms.
pub(crate) async fn channel(url: &str) -> (Connection, Channel) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    (connection, channel)
}

pub(crate) async fn publish_raw(channel: &Channel, exchange: &str, routing_key: &str, body: &[u8]) {
    channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
}

/// A `payment.approved` envelope.
pub(crate) fn payment_approved(
    event_id: uuid::Uuid,
    payment_id: i64,
    customer_id: &str,
    address: &str,
) -> Value {
    json!({
        "eventType": "PaymentApproved",
        "eventId": event_id,
        "timestamp": chrono::Utc::now(),
        "version": 1,
        "payload": {"paymentId": payment_id, "customerId": customer_id, "address": address}
    })
}

/// A message taken off a queue.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) body: Value,
    pub(crate) raw: Vec<u8>,
    pub(crate) headers: std::collections::HashMap<String, String>,
    pub(crate) message_id: Option<String>,
    pub(crate) content_type: Option<String>,
}

/// Takes messages off `queue` until `count` arrived (or panics at the deadline).
pub(crate) async fn take(channel: &Channel, queue: &str, count: usize) -> Vec<Received> {
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
                let delivery = message.delivery;
                received.push(Received {
                    body: serde_json::from_slice(&delivery.data).unwrap_or(Value::Null),
                    headers: string_headers(&delivery.properties),
                    message_id: delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.as_str().to_owned()),
                    content_type: delivery
                        .properties
                        .content_type()
                        .as_ref()
                        .map(|s| s.as_str().to_owned()),
                    raw: delivery.data,
                });
            }
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    received
}

/// How many messages wait on `queue`.
pub(crate) async fn depth(channel: &Channel, queue: &str) -> u32 {
    channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue exists")
        .message_count()
}
