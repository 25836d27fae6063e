//! Spawning the service for a test, and talking to it, to its database and to the broker.

use std::{net::SocketAddr, time::Duration};

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{
        BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::FieldTable,
};
use payment::{
    config::{Config, IdpConfig},
    startup::App,
};
use platform::{
    config::{AmqpConfig, CacheConfig, DatabaseConfig, HttpConfig},
    messaging::consumer::string_headers,
    resilience::ResilienceConfig,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{TcpProxy, TestBroker, TestCache, TestDatabase, TestIdp, eventually};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
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

fn migrate(
    pool: &PgPool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + '_>> {
    Box::pin(async move { payment::postgres::migrate(pool).await.map_err(Into::into) })
}

/// Overrides for outage tests.
#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) redis_url: Option<String>,
    pub(crate) idp_url: Option<String>,
    pub(crate) seed_demo: bool,
    /// Reach Postgres through a [`TcpProxy`] the test can cut.
    pub(crate) database_proxy: bool,
}

/// A Keycloak stand-in: the client-credentials token endpoint and tommy's user.
async fn fake_keycloak() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/realms/ironvessel/protocol/openid-connect/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "service-token", "expires_in": 300, "token_type": "Bearer"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/ironvessel/users/{TOMMY}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": TOMMY, "username": "tommy", "firstName": "Tommy", "lastName": "Shelby",
            "email": "tommy@mail.com", "enabled": true
        })))
        .mount(&server)
        .await;
    server
}

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) idp: TestIdp,
    pub(crate) pool: PgPool,
    pub(crate) broker: TestBroker,
    pub(crate) cache: TestCache,
    pub(crate) account_cache_prefix: String,
    pub(crate) db_proxy: Option<TcpProxy>,
    _keycloak: MockServer,
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
        let fingerprint = platform::postgres::schema_fingerprint(&payment::postgres::MIGRATOR);
        let db = TestDatabase::create("payment", &fingerprint, migrate)
            .await
            .expect("test database");
        let broker = TestBroker::new().await;
        let cache = TestCache::new("payment").await;
        let idp = TestIdp::start().await;
        let keycloak = fake_keycloak().await;
        let account_cache_prefix = format!("{}:account", cache.prefix);
        let db_proxy = if options.database_proxy {
            Some(TcpProxy::in_front_of(&db.url).await.expect("proxy"))
        } else {
            None
        };
        let database_url = match &db_proxy {
            Some(proxy) => proxy.url_through(&db.url),
            None => db.url.clone(),
        };
        let config = Config {
            http: HttpConfig {
                host: "127.0.0.1".to_owned(),
                port: 0,
                body_limit_bytes: 16 * 1024,
                request_timeout: Duration::from_secs(10),
                instance_id: "payment-test".to_owned(),
            },
            database: DatabaseConfig {
                url: SecretString::from(database_url),
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
            account_cache_prefix: account_cache_prefix.clone(),
            order_cache_prefix: format!("{}:order", cache.prefix),
            auth: idp.auth_config(),
            idp: IdpConfig {
                url: options.idp_url.unwrap_or_else(|| keycloak.uri()),
                realm: "ironvessel".to_owned(),
                client_id: "ironvessel-account".to_owned(),
                client_secret: SecretString::from("dev-account-secret".to_owned()),
                resilience: ResilienceConfig::with_timeout(Duration::from_millis(500)),
            },
            seed_demo: options.seed_demo,
        };
        let app = App::build(config).await.expect("app builds");
        let addr: SocketAddr = app.local_addr().expect("bound");
        let pool = db.pool().await;
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        let app = Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            idp,
            pool,
            broker,
            cache,
            account_cache_prefix,
            db_proxy,
            _keycloak: keycloak,
            shutdown,
            _db: db,
        };
        // Readiness connects to the broker and declares the topology.
        testkit::until_ready(&app.client, &app.base, DEADLINE).await;
        app
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn customer(&self, subject: &str) -> String {
        self.idp.customer(subject)
    }

    pub(crate) fn manager(&self) -> String {
        self.idp.manager(VADER)
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn json(&self, path: &str, token: &str) -> Value {
        let response = self.get(path, token).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON body")
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
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

    /// Stores a primary address in the projection directly.
    pub(crate) async fn address(&self, customer_id: &str, address: &str) {
        sqlx::query("INSERT INTO customer (id, address) VALUES ($1, $2)")
            .bind(customer_id)
            .bind(address)
            .execute(&self.pool)
            .await
            .expect("insert customer");
    }

    /// Puts lines `(productId, name, price, quantity)` into the customer's cart directly.
    pub(crate) async fn cart(&self, customer_id: &str, lines: &[(i64, &str, &str, i32)]) {
        let cart_id: i64 = sqlx::query_scalar(
            "INSERT INTO cart (customer_id) VALUES ($1)
             ON CONFLICT (customer_id) DO UPDATE SET version = cart.version + 1 RETURNING id",
        )
        .bind(customer_id)
        .fetch_one(&self.pool)
        .await
        .expect("insert cart");
        for (id, name, price, quantity) in lines {
            sqlx::query(
                "INSERT INTO cart_product (cart_id, product_id, name, price, category, quantity)
                 VALUES ($1, $2, $3, $4::numeric, 'TOOL', $5)",
            )
            .bind(cart_id)
            .bind(id)
            .bind(name)
            .bind(price)
            .bind(quantity)
            .execute(&self.pool)
            .await
            .expect("insert cart line");
        }
    }

    /// Inserts a payment with `status` and lines `(productId, quantity)` at 10.00 each.
    pub(crate) async fn payment(
        &self,
        customer_id: &str,
        status: &str,
        lines: &[(i64, i32)],
    ) -> i64 {
        let total: i32 = lines.iter().map(|(_, q)| q * 10).sum();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO payment (customer_id, total_price, status) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(customer_id)
        .bind(rust_decimal::Decimal::from(total))
        .bind(status)
        .fetch_one(&self.pool)
        .await
        .expect("insert payment");
        for (product, quantity) in lines {
            sqlx::query(
                "INSERT INTO payment_product (payment_id, product_id, name, price, category, quantity)
                 VALUES ($1, $2, 'Thing', 10, 'TOOL', $3)",
            )
            .bind(id)
            .bind(product)
            .bind(quantity)
            .execute(&self.pool)
            .await
            .expect("insert payment line");
        }
        id
    }

    /// Checks out tommy's cart over HTTP and returns the new payment's id.
    pub(crate) async fn checkout(&self, customer_id: &str) -> i64 {
        let response = self
            .send(
                reqwest::Method::POST,
                "/payment/accept",
                &self.customer(customer_id),
                None,
            )
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        sqlx::query_scalar("SELECT max(id) FROM payment WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_one(&self.pool)
            .await
            .expect("payment id")
    }

    pub(crate) fn name(&self, name: &str) -> String {
        format!("{}{name}", self.broker.prefix)
    }

    /// The value of a metric line starting with `series`, 0 when absent.
    pub(crate) async fn metric(&self, series: &str) -> u64 {
        let Ok(response) = self.client.get(self.url("/metrics")).send().await else {
            return 0;
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until the consumer of `routing_key` reports `count` messages with `outcome`.
    pub(crate) async fn consumed(&self, routing_key: &str, outcome: &str, count: u64) {
        let series = format!(
            r#"consumer_messages_total{{queue="payment.{routing_key}",outcome="{outcome}"}}"#
        );
        eventually(
            &format!("{count} {outcome} on {routing_key}"),
            DEADLINE,
            || async { (self.metric(&series).await >= count).then_some(()) },
        )
        .await;
    }

    /// Publishes an event envelope (with a fresh id unless `event_id` is given).
    pub(crate) async fn publish(
        &self,
        channel: &Channel,
        exchange: &str,
        routing_key: &str,
        event_type: &str,
        payload: Value,
        event_id: Option<Uuid>,
    ) {
        let body = json!({
            "eventType": event_type,
            "eventId": event_id.unwrap_or_else(Uuid::new_v4),
            "timestamp": chrono::Utc::now(),
            "version": 1,
            "payload": payload,
        });
        publish_raw(
            channel,
            &self.name(exchange),
            routing_key,
            &serde_json::to_vec(&body).expect("JSON"),
        )
        .await;
    }

    /// A `product.available` event for tommy-style carts.
    pub(crate) async fn product_available(
        &self,
        channel: &Channel,
        customer_id: &str,
        product_id: i64,
        price: f64,
        quantity: i64,
        event_id: Option<Uuid>,
    ) {
        self.publish(
            channel,
            "product.topic",
            "product.available",
            "ProductAvailable",
            json!({"id": product_id, "name": format!("Product {product_id}"), "price": price,
                   "productCategory": "TOOL", "desiredQuantity": quantity, "customerId": customer_id}),
            event_id,
        )
        .await;
    }

    /// A temporary queue bound to `routing_key` on `exchange` (for events nobody consumes).
    pub(crate) async fn listen(
        &self,
        channel: &Channel,
        exchange: &str,
        routing_key: &str,
    ) -> String {
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("temporary queue");
        let name = queue.name().as_str().to_owned();
        channel
            .queue_bind(
                name.as_str().into(),
                self.name(exchange).into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
        name
    }

    /// Redis key in account's cache.
    pub(crate) fn account_key(&self, name: &str, key: &str) -> String {
        format!("{}:{name}::{key}", self.account_cache_prefix)
    }

    pub(crate) async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.cache.url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis")
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

/// A message taken off a queue.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) body: Value,
    pub(crate) raw: Vec<u8>,
    pub(crate) headers: std::collections::HashMap<String, String>,
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
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue exists")
        .message_count()
}
