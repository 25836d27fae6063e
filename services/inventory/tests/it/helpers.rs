//! Spawning the service for a test, and talking to it and to the broker.

use std::{net::SocketAddr, time::Duration};

use futures::FutureExt;
use inventory::{config::Config, startup::App};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use platform::{
    config::{AmqpConfig, CacheConfig, DatabaseConfig, HttpConfig, LocalCacheConfig},
    messaging::consumer::string_headers,
};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use testkit::{TestBroker, TestCache, TestDatabase, TestIdp};
use tokio_util::sync::CancellationToken;

/// An upper bound for asynchronous outcomes, generous for a loaded CI machine; polls
/// return as soon as the outcome is there.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

fn migrate(
    pool: &PgPool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + '_>> {
    async move { inventory::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

/// Overrides for outage tests.
#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) database_url: Option<String>,
    pub(crate) amqp_url: Option<String>,
    pub(crate) redis_url: Option<String>,
    pub(crate) request_timeout: Option<Duration>,
}

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) idp: TestIdp,
    pub(crate) pool: PgPool,
    pub(crate) broker: TestBroker,
    _cache: TestCache,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the database outlives the app's pool.
    pub(crate) db: TestDatabase,
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub(crate) async fn spawn_with(options: Options) -> Self {
        platform::telemetry::init_for_tests();
        let fingerprint = platform::postgres::schema_fingerprint(&inventory::postgres::MIGRATOR);
        let db = TestDatabase::create("inventory", &fingerprint, migrate)
            .await
            .expect("test database");
        let broker = TestBroker::new().await;
        let cache = TestCache::new("inventory").await;
        let idp = TestIdp::start().await;
        let config = Config {
            http: HttpConfig {
                host: "127.0.0.1".to_owned(),
                port: 0,
                body_limit_bytes: 16 * 1024,
                request_timeout: options.request_timeout.unwrap_or(Duration::from_secs(10)),
                instance_id: "inventory-test".to_owned(),
            },
            database: DatabaseConfig {
                url: SecretString::from(options.database_url.unwrap_or_else(|| db.url.clone())),
                max_connections: 10,
                acquire_timeout: Duration::from_secs(2),
            },
            amqp: AmqpConfig {
                url: SecretString::from(options.amqp_url.unwrap_or_else(|| broker.url.clone())),
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
            local_cache: LocalCacheConfig::default(),
            auth: idp.auth_config(),
            seed_demo: false,
            cache_eviction: true,
        };
        let app = App::build(config).await.expect("app builds");
        let addr: SocketAddr = app.local_addr().expect("bound");
        let pool = db.pool().await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run(shutdown.clone()));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            idp,
            pool,
            broker,
            _cache: cache,
            shutdown,
            task: Some(task),
            db,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn customer(&self) -> String {
        self.idp.customer("c908ce9d-faec-4570-b84d-71a4e77f2f4a")
    }

    pub(crate) fn manager(&self) -> String {
        self.idp.manager("47ac2317-2da2-457a-90d6-48d5a0f9739a")
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
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

    /// Inserts a product directly and returns its id.
    pub(crate) async fn product(&self, name: &str, price: &str, quantity: i32) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO product (name, price, category, quantity) VALUES ($1, $2::numeric, 'TOOL', $3) RETURNING id",
        )
        .bind(name)
        .bind(price)
        .bind(quantity)
        .fetch_one(&self.pool)
        .await
        .expect("insert product")
    }

    pub(crate) async fn stock(&self, id: i64) -> i32 {
        sqlx::query_scalar("SELECT quantity FROM product WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("stock")
    }

    pub(crate) fn queue(&self, name: &str) -> String {
        format!("{}{name}", self.broker.prefix)
    }

    /// Stops the service gracefully and waits for it.
    pub(crate) async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task").expect("app stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
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

/// A `payment.saved` envelope.
pub(crate) fn payment_saved(event_id: uuid::Uuid, payment_id: i64, lines: &[(i64, i64)]) -> Value {
    let quantities: serde_json::Map<String, Value> = lines
        .iter()
        .map(|(id, q)| (id.to_string(), Value::from(*q)))
        .collect();
    serde_json::json!({
        "eventType": "PaymentSaved",
        "eventId": event_id,
        "timestamp": chrono::Utc::now(),
        "version": 1,
        "payload": {"paymentId": payment_id, "customerId": "c908ce9d-faec-4570-b84d-71a4e77f2f4a", "productQuantities": quantities}
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
