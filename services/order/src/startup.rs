//! Wiring: builds the app from its config, runs it, stops it gracefully.

use std::net::SocketAddr;

use platform::{
    auth::Authenticator,
    cache::Cache,
    config::CacheConfig,
    http::{
        health::{self, Readiness},
        middleware::{self, HttpContext},
        server,
    },
    messaging::{Broker, consumer, outbox},
    metrics::Metrics,
    resilience::{Breaker, ResilienceConfig},
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    amqp::PaymentApprovedHandler,
    app::{OrderCaches, Orders},
    config::{Config, SERVICE},
    downstream::HttpPaymentService,
    http::{AppState, router},
    keycloak::KeycloakDirectory,
    postgres::{self, PgOrderStore},
};

/// A built, not yet running, order service.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    config: Config,
    pool: sqlx::PgPool,
    broker: Broker,
    caches: OrderCaches,
    metrics: Metrics,
}

fn http_client(config: &ResilienceConfig) -> reqwest::Result<reqwest::Client> {
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
        if config.seed_demo && postgres::load_demo_orders(&pool).await? {
            tracing::info!("demo orders loaded");
        }
        let broker = Broker::new(
            &config.amqp,
            &format!("{SERVICE}@{}", config.http.instance_id),
        );
        let cache = Cache::new(&config.cache, metrics.clone());
        // Same Redis, account's prefix: only for evicting account's copy of order lists.
        let account_cache = Cache::new(
            &CacheConfig {
                prefix: config.account_cache_prefix.clone(),
                ..config.cache.clone()
            },
            metrics.clone(),
        );
        let caches = OrderCaches {
            own: cache.clone(),
            account: account_cache,
        };

        let idp = &config.idp;
        let directory = KeycloakDirectory::new(
            http_client(&idp.resilience)?,
            idp,
            Breaker::new("identity", &idp.resilience),
        );
        let payment = &config.payment;
        let payments = HttpPaymentService::new(
            http_client(&payment.resilience)?,
            &payment.url,
            Breaker::new("payment", &payment.resilience),
        );

        let state = AppState {
            orders: Orders::new(
                PgOrderStore::new(pool.clone()),
                directory,
                payments,
                caches.clone(),
            ),
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
            caches,
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

    /// Serves HTTP, relays the outbox and consumes `payment.approved` until `shutdown`;
    /// then drains requests, stops the consumer and flushes the outbox.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        tasks.spawn(
            outbox::Relay::new(self.pool.clone(), self.broker.clone(), self.metrics.clone())
                .run(shutdown.clone()),
        );
        tasks.spawn(consumer::run(
            consumer::ConsumerSpec {
                service: SERVICE,
                routing_key: "payment.approved",
            },
            PaymentApprovedHandler {
                caches: self.caches.clone(),
            },
            self.broker.clone(),
            self.pool.clone(),
            self.metrics.clone(),
            self.config.amqp.clone(),
            shutdown.clone(),
        ));
        tracing::info!(addr = %self.listener.local_addr()?, instance = %self.config.http.instance_id, "order listening");
        let served = server::serve(self.listener, self.router, shutdown.clone()).await;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        self.broker.close().await;
        self.pool.close().await;
        tracing::info!("order stopped");
        Ok(served?)
    }
}
