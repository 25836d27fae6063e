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
    resilience::Breaker,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    amqp::{
        OrderCancelledHandler, PrimaryAddressSavedHandler, ProductAvailableHandler,
        ProductsCheckedHandler,
    },
    app::{Caches, Payments},
    config::{Config, SERVICE},
    http::{AppState, router},
    keycloak::KeycloakDirectory,
    postgres::{self, PgPaymentStore},
};

/// A built, not yet running, payment service.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    config: Config,
    pool: sqlx::PgPool,
    broker: Broker,
    caches: Caches,
    metrics: Metrics,
}

impl App {
    /// Connects, migrates (and seeds when asked) and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let pool = platform::postgres::pool(&config.database)?;
        postgres::migrate(&pool).await?;
        if config.seed_demo && postgres::load_demo_data(&pool).await? {
            tracing::info!("demo payments, carts and addresses loaded");
        }
        let broker = Broker::new(
            &config.amqp,
            &format!("{SERVICE}@{}", config.http.instance_id),
        );
        let cache = Cache::new(&config.cache, metrics.clone());
        let foreign = |prefix: &str| {
            Cache::new(
                &CacheConfig {
                    prefix: prefix.to_owned(),
                    ..config.cache.clone()
                },
                metrics.clone(),
            )
        };
        let caches = Caches {
            own: cache.clone(),
            account: foreign(&config.account_cache_prefix),
            order: foreign(&config.order_cache_prefix),
        };
        let idp = &config.idp;
        // Per-call deadlines come from the breaker; the client only bounds connecting.
        let http = reqwest::Client::builder()
            .connect_timeout(idp.resilience.timeout)
            .build()?;
        let directory =
            KeycloakDirectory::new(http, idp, Breaker::new("identity", &idp.resilience));
        let state = AppState {
            payments: Payments::new(PgPaymentStore::new(pool.clone()), directory, caches.clone()),
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

    fn consume<H: consumer::Handler>(
        &self,
        tasks: &mut JoinSet<()>,
        routing_key: &'static str,
        handler: H,
        shutdown: &CancellationToken,
    ) {
        tasks.spawn(consumer::run(
            consumer::ConsumerSpec {
                service: SERVICE,
                routing_key,
            },
            handler,
            self.broker.clone(),
            self.pool.clone(),
            self.metrics.clone(),
            self.config.amqp.clone(),
            shutdown.clone(),
        ));
    }

    /// Serves HTTP, relays the outbox and consumes `product.available`,
    /// `address.primary-saved`, `product.checked` and `order.cancelled` until `shutdown`;
    /// then drains requests, stops the consumers and flushes the outbox.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        tasks.spawn(
            outbox::Relay::new(self.pool.clone(), self.broker.clone(), self.metrics.clone())
                .run(shutdown.clone()),
        );
        let caches = self.caches.clone();
        self.consume(
            &mut tasks,
            "product.available",
            ProductAvailableHandler {
                caches: caches.clone(),
            },
            &shutdown,
        );
        self.consume(
            &mut tasks,
            "address.primary-saved",
            PrimaryAddressSavedHandler,
            &shutdown,
        );
        self.consume(
            &mut tasks,
            "product.checked",
            ProductsCheckedHandler {
                caches: caches.clone(),
            },
            &shutdown,
        );
        self.consume(
            &mut tasks,
            "order.cancelled",
            OrderCancelledHandler { caches },
            &shutdown,
        );
        tracing::info!(addr = %self.listener.local_addr()?, instance = %self.config.http.instance_id, "payment listening");
        let served = server::serve(self.listener, self.router, shutdown.clone()).await;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        self.broker.close().await;
        self.pool.close().await;
        tracing::info!("payment stopped");
        Ok(served?)
    }
}
