//! Spawning the gateway and real inventory replicas for a test, and a stub upstream for
//! the tests whose point is what an upstream receives or how it misbehaves.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use futures::FutureExt;
use gateway::{config::Config, startup::App};
use inventory::config::Config as InventoryConfig;
use platform::{
    auth::AuthConfig,
    config::{AmqpConfig, CacheConfig, DatabaseConfig, Env, HttpConfig, LocalCacheConfig},
};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use testkit::{TestBroker, TestCache, TestDatabase, TestIdp};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};

pub(crate) const DEADLINE: Duration = Duration::from_secs(20);
/// The health-check interval the tests configure.
pub(crate) const HEALTH_INTERVAL: Duration = Duration::from_millis(200);
pub(crate) const CUSTOMER: &str = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
pub(crate) const MANAGER: &str = "47ac2317-2da2-457a-90d6-48d5a0f9739a";

fn migrate(
    pool: &PgPool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + '_>> {
    async move { inventory::postgres::migrate(pool).await.map_err(Into::into) }.boxed()
}

/// A local port nothing listens on.
pub(crate) fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// What inventory replicas of one test share: a database, a broker prefix, a cache
/// prefix and the identity provider whose tokens they (and the gateway) accept.
pub(crate) struct InventoryInfra {
    pub(crate) idp: TestIdp,
    pub(crate) pool: PgPool,
    broker: TestBroker,
    cache: TestCache,
    // Dropped last: the database outlives the replicas' pools.
    db: TestDatabase,
}

impl InventoryInfra {
    pub(crate) async fn new() -> Self {
        platform::telemetry::init_for_tests();
        let fingerprint = platform::postgres::schema_fingerprint(&inventory::postgres::MIGRATOR);
        let db = TestDatabase::create("inventory", &fingerprint, migrate)
            .await
            .expect("test database");
        Self {
            idp: TestIdp::start().await,
            pool: db.pool().await,
            broker: TestBroker::new().await,
            cache: TestCache::new("inventory").await,
            db,
        }
    }

    fn config(&self, instance_id: &str, port: u16) -> InventoryConfig {
        InventoryConfig {
            http: HttpConfig {
                host: "127.0.0.1".to_owned(),
                port,
                body_limit_bytes: 64 * 1024,
                request_timeout: Duration::from_secs(10),
                instance_id: instance_id.to_owned(),
            },
            database: DatabaseConfig {
                url: SecretString::from(self.db.url.clone()),
                max_connections: 4,
                acquire_timeout: Duration::from_secs(2),
            },
            amqp: AmqpConfig {
                url: SecretString::from(self.broker.url.clone()),
                prefix: self.broker.prefix.clone(),
                prefetch: 16,
                max_attempts: 3,
                retry_base: Duration::from_millis(20),
            },
            cache: CacheConfig {
                url: SecretString::from(self.cache.url.clone()),
                prefix: self.cache.prefix.clone(),
                enabled: true,
                timeout: Duration::from_millis(250),
            },
            local_cache: LocalCacheConfig::default(),
            auth: self.idp.auth_config(),
            seed_demo: false,
            cache_eviction: true,
        }
    }

    /// Starts a replica named `instance_id` on `port` (0: any free port).
    pub(crate) async fn start(&self, instance_id: &str, port: u16) -> Replica {
        let app = inventory::startup::App::build(self.config(instance_id, port))
            .await
            .expect("inventory builds");
        let addr = app.local_addr().expect("bound");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run(shutdown.clone()));
        Replica {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    /// Inserts a product and returns its id.
    pub(crate) async fn product(&self, name: &str) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO product (name, price, category, quantity) VALUES ($1, 9.99, 'TOOL', 5) RETURNING id",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .expect("insert product")
    }

    pub(crate) fn customer(&self) -> String {
        self.idp.customer(CUSTOMER)
    }

    pub(crate) fn manager(&self) -> String {
        self.idp.manager(MANAGER)
    }
}

/// A running inventory replica; stopped when dropped.
pub(crate) struct Replica {
    pub(crate) addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Replica {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it gracefully (as Kubernetes does) and waits until its port is closed.
    pub(crate) async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await
                .expect("replica task")
                .expect("replica stopped cleanly");
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A running gateway; stopped when dropped.
pub(crate) struct TestGateway {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    shutdown: CancellationToken,
}

impl TestGateway {
    /// Starts a gateway trusting `auth`, with test settings (port 0, health checks every
    /// 200 ms, a rate limit no test reaches by accident, every pool on a closed port)
    /// overridden by `vars` (`GATEWAY_*` names, as in production).
    pub(crate) async fn spawn(auth: AuthConfig, vars: &[(&str, String)]) -> Self {
        platform::telemetry::init_for_tests();
        let closed = format!("http://127.0.0.1:{}", closed_port());
        let mut env: HashMap<String, String> = [
            ("GATEWAY_HTTP_HOST", "127.0.0.1".to_owned()),
            ("GATEWAY_HTTP_PORT", "0".to_owned()),
            ("GATEWAY_INSTANCE_ID", "gateway-test".to_owned()),
            (
                "GATEWAY_HEALTH_INTERVAL_MS",
                HEALTH_INTERVAL.as_millis().to_string(),
            ),
            ("GATEWAY_RATE_LIMIT_PER_SECOND", "100000".to_owned()),
            ("GATEWAY_RATE_LIMIT_BURST", "100000".to_owned()),
            ("GATEWAY_ACCOUNT_URLS", closed.clone()),
            ("GATEWAY_INVENTORY_URLS", closed.clone()),
            ("GATEWAY_ORDER_URLS", closed.clone()),
            ("GATEWAY_PAYMENT_URLS", closed.clone()),
            ("GATEWAY_IDENTITY_URLS", closed),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        for (name, value) in vars {
            if name.ends_with("_DNS") {
                env.remove(&name.replace("_DNS", "_URLS"));
            }
            env.insert((*name).to_owned(), value.clone());
        }
        let mut config = Config::from(&Env::with_lookup("GATEWAY", move |name| {
            env.get(name).cloned()
        }))
        .expect("valid gateway config");
        config.auth = auth;
        let app = App::build(config).await.expect("gateway builds");
        let addr = app.local_addr().expect("bound");
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// The gateway's readiness report.
    pub(crate) async fn ready(&self) -> Value {
        let response = self
            .client
            .get(self.url("/health/ready"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        response.json().await.expect("JSON report")
    }

    /// Waits until the readiness report shows `healthy` replicas in rotation in `pool`.
    pub(crate) async fn wait_for_healthy(&self, pool: &str, healthy: u64) {
        testkit::eventually(
            &format!("{healthy} healthy {pool} replicas"),
            DEADLINE,
            || async {
                let report = self.ready().await;
                (report["pools"][pool]["healthy"] == healthy).then_some(())
            },
        )
        .await;
    }

    pub(crate) async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("text")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A stub upstream that passes its health check; tests mount what else it answers.
pub(crate) async fn stub_upstream() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/health/ready"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "UP"})))
        .mount(&server)
        .await;
    server
}

/// The requests `server` received other than health checks.
pub(crate) async fn traffic(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.url.path() != "/health/ready")
        .collect()
}

/// The error body's parts.
pub(crate) async fn error_body(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["resultType"], "ERROR", "{body}");
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}
