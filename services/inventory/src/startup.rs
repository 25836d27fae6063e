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
    messaging::{Broker, consumer, outbox},
    metrics::Metrics,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    amqp::{PaymentRefundedHandler, PaymentSavedHandler},
    app::{Inventory, PRODUCT_CACHE},
    config::{Config, SERVICE},
    http::{AppState, router},
    postgres::{self, PgProductStore},
};

/// A built, not yet running, inventory service.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    config: Config,
    pool: sqlx::PgPool,
    broker: Broker,
    cache: Cache,
    metrics: Metrics,
}

impl App {
    /// Connects, migrates (and seeds when asked) and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let pool = platform::postgres::pool(&config.database)?;
        postgres::migrate(&pool).await?;
        if config.seed_demo && postgres::load_demo_products(&pool).await? {
            tracing::info!("demo products loaded");
        }
        let broker = Broker::new(
            &config.amqp,
            &format!("{SERVICE}@{}", config.http.instance_id),
        );
        let cache = if config.cache_eviction {
            Cache::new(&config.cache, metrics.clone())
        } else {
            tracing::warn!("cache eviction is off: products go stale after writes (tests only)");
            Cache::without_eviction(&config.cache, metrics.clone())
        }
        .with_local_tier(&[PRODUCT_CACHE], &config.local_cache);
        let state = AppState {
            inventory: Inventory::new(PgProductStore::new(pool.clone()), cache.clone()),
            auth: Authenticator::new(config.auth.clone()),
            instance_id: config.http.instance_id.clone(),
        };
        let readiness = Readiness {
            database: Some(pool.clone()),
            broker: Some(broker.clone()),
            cache: Some(cache.clone()),
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
            cache,
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

    /// Serves HTTP, relays the outbox and consumes `payment.saved` and `payment.refunded`
    /// until `shutdown`; then drains requests, stops the consumers and flushes the outbox.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        tasks.spawn(
            outbox::Relay::new(self.pool.clone(), self.broker.clone(), self.metrics.clone())
                .run(shutdown.clone()),
        );
        tasks.spawn(consumer::run(
            consumer::ConsumerSpec {
                service: SERVICE,
                routing_key: "payment.saved",
            },
            PaymentSavedHandler {
                cache: self.cache.clone(),
            },
            self.broker.clone(),
            self.pool.clone(),
            self.metrics.clone(),
            self.config.amqp.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(consumer::run(
            consumer::ConsumerSpec {
                service: SERVICE,
                routing_key: "payment.refunded",
            },
            PaymentRefundedHandler {
                cache: self.cache.clone(),
            },
            self.broker.clone(),
            self.pool.clone(),
            self.metrics.clone(),
            self.config.amqp.clone(),
            shutdown.clone(),
        ));
        tracing::info!(addr = %self.listener.local_addr()?, instance = %self.config.http.instance_id, "inventory listening");
        let served = server::serve(self.listener, self.router, shutdown.clone()).await;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        self.broker.close().await;
        self.pool.close().await;
        tracing::info!("inventory stopped");
        Ok(served?)
    }
}
