//! Wiring: builds the app from its config, runs it, stops it gracefully.

use std::net::SocketAddr;

use platform::{
    auth::Authenticator,
    cache::Cache,
    http::{
        health::{self, Readiness},
        middleware::{self, HttpContext},
        server,
    },
    messaging::{Broker, outbox},
    metrics::Metrics,
    resilience::Breaker,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    app::{AddressBook, CustomerAdmin},
    config::{Config, SERVICE},
    downstream::{HttpOrderService, HttpPaymentService},
    http::{AppState, router},
    keycloak::KeycloakDirectory,
    postgres::{self, PgAddressStore},
};

/// A built, not yet running, account service.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    config: Config,
    pool: sqlx::PgPool,
    broker: Broker,
    metrics: Metrics,
}

fn http_client(
    config: &platform::resilience::ResilienceConfig,
) -> reqwest::Result<reqwest::Client> {
    // Per-call deadlines come from the breakers; the client only bounds connecting and
    // keeps the idle pool small.
    reqwest::Client::builder()
        .connect_timeout(config.timeout)
        .pool_max_idle_per_host(config.max_concurrent.min(32))
        .build()
}

impl App {
    /// Connects, migrates (and seeds when asked) and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let pool = platform::postgres::pool(&config.database)?;
        postgres::migrate(&pool).await?;
        if config.seed_demo && postgres::load_demo_addresses(&pool).await? {
            tracing::info!("demo addresses loaded");
        }
        let broker = Broker::new(
            &config.amqp,
            &format!("{SERVICE}@{}", config.http.instance_id),
        );
        let cache = Cache::new(&config.cache, metrics.clone());

        let idp = &config.idp;
        let directory = KeycloakDirectory::new(
            http_client(&idp.resilience)?,
            idp,
            Breaker::new("identity", &idp.resilience),
        );
        let downstream = &config.downstream;
        let downstream_http = http_client(&downstream.resilience)?;
        let orders = HttpOrderService::new(
            downstream_http.clone(),
            &downstream.order_url,
            Breaker::new("order", &downstream.resilience),
        );
        let payments = HttpPaymentService::new(
            downstream_http,
            &downstream.payment_url,
            Breaker::new("payment", &downstream.resilience),
        );

        let state = AppState {
            addresses: AddressBook::new(PgAddressStore::new(pool.clone()), cache.clone()),
            customers: CustomerAdmin::new(directory, orders, payments, cache.clone()),
            auth: Authenticator::new(config.auth.clone()),
            instance_id: config.http.instance_id.clone(),
        };
        let readiness = Readiness {
            database: Some(pool.clone()),
            broker: Some(broker.clone()),
            cache: Some(cache),
        };
        let router = middleware::apply(
            router(state).merge(health::router(readiness, metrics.clone())),
            HttpContext {
                metrics: metrics.clone(),
                instance_id: config.http.instance_id.clone(),
                request_timeout: config.http.request_timeout,
                body_limit_bytes: config.http.body_limit_bytes,
            },
        );
        let listener = server::bind(&config.http).await?;
        Ok(Self {
            listener,
            router,
            config,
            pool,
            broker,
            metrics,
        })
    }

    /// The bound address (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The connection pool (tests inspect the database through it).
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Serves HTTP and relays the outbox until `shutdown`; then drains requests and
    /// flushes the outbox. Account consumes no events.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        tasks.spawn(
            outbox::Relay::new(self.pool.clone(), self.broker.clone(), self.metrics.clone())
                .run(shutdown.clone()),
        );
        tracing::info!(addr = %self.listener.local_addr()?, instance = %self.config.http.instance_id, "account listening");
        let served = server::serve(self.listener, self.router, shutdown.clone()).await;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        self.broker.close().await;
        self.pool.close().await;
        tracing::info!("account stopped");
        Ok(served?)
    }
}
