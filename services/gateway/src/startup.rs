//! Wiring: builds the gateway from its config, runs it, stops it gracefully.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use platform::{auth::Authenticator, http::server, metrics::Metrics};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{Config, Replicas},
    discovery,
    http::{AppState, router},
    metrics::GatewayMetrics,
    pool::Pool,
    probe,
    proxy::{Gateway, GatewayParts},
    rate_limit::RateLimiter,
    upstream::UpstreamClient,
};

/// Idle pooled connections kept per replica.
const MAX_IDLE_PER_REPLICA: usize = 64;
/// How often the rate limiter forgets clients that went quiet.
const FORGET_IDLE_CLIENTS_EVERY: Duration = Duration::from_secs(60);

/// A built, not yet running, gateway.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    config: Config,
    gateway: Gateway,
}

impl App {
    /// Resolves the DNS pools once, builds the pools and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let gateway_metrics = GatewayMetrics::new();
        let mut pools = Vec::new();
        for pool in &config.pools {
            let initial = match &pool.replicas {
                Replicas::Static(list) => list.clone(),
                Replicas::Dns { host, port } => match discovery::resolve(host, *port).await {
                    Ok(replicas) => replicas,
                    Err(error) => {
                        // In Kubernetes the name may not resolve until a pod is ready;
                        // the refresh loop fills the pool when it does.
                        tracing::warn!(pool = %pool.name, dns.name = %host, %error, "DNS lookup failed; the pool starts empty");
                        Vec::new()
                    }
                },
            };
            pools.push(Arc::new(Pool::new(
                pool.clone(),
                initial,
                &config.health,
                &config.breaker,
                gateway_metrics.clone(),
            )));
        }
        let gateway = Gateway::new(GatewayParts {
            pools,
            client: UpstreamClient::new(config.connect_timeout, MAX_IDLE_PER_REPLICA),
            auth: Authenticator::new(config.auth.clone()),
            limiter: RateLimiter::new(config.rate_limit),
            body_limit: config.body_limit_bytes,
            trust_forwarded_for: config.trust_forwarded_for,
            metrics: gateway_metrics,
        });
        let router = router(
            AppState {
                gateway: gateway.clone(),
                metrics: Arc::new(metrics),
            },
            &config.http.instance_id,
        );
        let listener = server::bind(&config.http).await?;
        Ok(Self {
            listener,
            router,
            config,
            gateway,
        })
    }

    /// The bound address (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves, health-checks the replicas and follows DNS until `shutdown`; then stops
    /// accepting, lets in-flight requests finish and stops the background tasks.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tasks = JoinSet::new();
        let pools = self.gateway.pools().to_vec();
        tasks.spawn(probe::run(
            pools.clone(),
            self.config.connect_timeout,
            self.config.health.interval,
            self.config.health.timeout,
            shutdown.clone(),
        ));
        for pool in pools {
            if let Replicas::Dns { host, port } = &pool.config().replicas {
                tasks.spawn(discovery::run(
                    pool.clone(),
                    host.clone(),
                    *port,
                    self.config.dns_refresh,
                    shutdown.clone(),
                ));
            }
        }
        let gateway = self.gateway.clone();
        let forget = shutdown.clone();
        tasks.spawn(async move {
            let mut ticker = tokio::time::interval(FORGET_IDLE_CLIENTS_EVERY);
            loop {
                tokio::select! {
                    () = forget.cancelled() => return,
                    _ = ticker.tick() => gateway.limiter().forget_idle(),
                }
            }
        });
        tracing::info!(addr = %self.listener.local_addr()?, instance = %self.config.http.instance_id, "gateway listening");
        let served = server::serve(self.listener, self.router, shutdown.clone()).await;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        tracing::info!("gateway stopped");
        Ok(served?)
    }
}
