//! Wiring: builds the app from its config (migrate, import the realm file, make sure a
//! signing key exists, bind), runs it, stops it gracefully.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
    time::Duration,
};

use anyhow::Context as _;
use platform::{
    auth::AuthConfig,
    http::{
        health::{self, Readiness},
        middleware::{self, HttpContext},
        server,
    },
    metrics::Metrics,
};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    app::{Identity, IdentitySettings, ImportReport},
    config::{Config, resolve_realm_file},
    domain::realm_export,
    http::{AppState, router},
    password::PasswordHasher,
    postgres::{self, PgIdentityStore},
    signing::SigningKey,
};

/// The shop's realm.
pub const REALM: &str = "ironvessel";

/// A built, not yet running, identity service.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    config: Config,
    pool: sqlx::PgPool,
    identity: Identity<PgIdentityStore>,
}

fn use_cases(
    config: &Config,
    pool: &sqlx::PgPool,
    public_url: String,
) -> anyhow::Result<Identity<PgIdentityStore>> {
    Ok(Identity::new(
        PgIdentityStore::new(pool.clone()),
        PasswordHasher::new(config.password_hash)?,
        IdentitySettings {
            public_url,
            access_token_lifespan: config.access_token_lifespan,
            brute_force_wait: config.brute_force_wait,
        },
    ))
}

impl App {
    /// Connects, migrates, binds, imports the realm file and makes sure a signing key
    /// exists.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let pool = platform::postgres::pool(&config.database)?;
        postgres::migrate(&pool)
            .await
            .context("running the identity migrations")?;
        let listener = server::bind(&config.http).await?;
        let public_url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let addr = listener.local_addr()?;
                let ip = if addr.ip().is_unspecified() {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    addr.ip()
                };
                format!("http://{}", SocketAddr::new(ip, addr.port()))
            }
        };
        let identity = use_cases(&config, &pool, public_url)?;
        if let Some(path) = &config.realm_file {
            import_realm_file(&identity, path).await?;
        }
        let configured = config
            .signing_key_pem
            .as_ref()
            .map(|pem| SigningKey::from_pem(pem.expose_secret()))
            .transpose()
            .context("IDENTITY_SIGNING_KEY_PEM")?;
        identity.ensure_signing_key(configured).await?;
        identity.reload().await?;
        let readiness = Readiness {
            database: Some(pool.clone()),
            ..Readiness::default()
        };
        let router = middleware::apply(
            router(AppState {
                identity: identity.clone(),
            })
            .merge(health::router(readiness, metrics.clone())),
            HttpContext {
                metrics,
                instance_id: config.http.instance_id.clone(),
                request_timeout: config.http.request_timeout,
                body_limit_bytes: config.http.body_limit_bytes,
            },
        );
        Ok(Self {
            listener,
            router,
            config,
            pool,
            identity,
        })
    }

    /// The bound address (tests bind port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The public URL, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.identity.settings().public_url
    }

    /// The issuer of `realm`: `<base url>/realms/<realm>`.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base_url())
    }

    /// The token endpoint of `realm`.
    pub fn token_url(&self, realm: &str) -> String {
        format!("{}/protocol/openid-connect/token", self.issuer(realm))
    }

    /// Auth settings that trust this provider's `realm` with audience `ironvessel`,
    /// tuned for tests: no clock leeway, and the JWKS is fetched again on every unknown
    /// `kid` (so a rotated key is seen at once).
    pub fn auth_config(&self, realm: &str) -> AuthConfig {
        let issuer = self.issuer(realm);
        AuthConfig {
            jwks_url: format!("{issuer}/protocol/openid-connect/certs"),
            issuer,
            audience: "ironvessel".to_owned(),
            leeway: Duration::ZERO,
            min_refresh_interval: Duration::ZERO,
            token_cache_size: 10_000,
        }
    }

    /// The use cases (tests rotate keys or import realms through them while the app runs).
    pub fn identity(&self) -> Identity<PgIdentityStore> {
        self.identity.clone()
    }

    /// The connection pool (tests inspect the database through it).
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Serves HTTP until `shutdown`, then drains in-flight requests.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(
            addr = %self.listener.local_addr()?,
            instance = %self.config.http.instance_id,
            public_url = %self.identity.settings().public_url,
            "identity listening"
        );
        let served = server::serve(self.listener, self.router, shutdown).await;
        self.pool.close().await;
        tracing::info!("identity stopped");
        Ok(served?)
    }
}

/// Imports a Keycloak realm export (placeholders read the process environment):
/// settings, roles and clients are replaced; missing users are created; existing users
/// are left alone, so passwords changed since keep working.
pub async fn import_realm_file(
    identity: &Identity<PgIdentityStore>,
    path: &Path,
) -> anyhow::Result<ImportReport> {
    let resolved = resolve_realm_file(path);
    let json = tokio::fs::read_to_string(&resolved)
        .await
        .with_context(|| format!("reading the realm file {}", resolved.display()))?;
    let import = realm_export::parse(
        &json,
        &|name| std::env::var(name).ok(),
        chrono::Utc::now().timestamp_millis(),
    )
    .with_context(|| format!("parsing the realm file {}", resolved.display()))?;
    let report = identity.import_realm(import).await?;
    tracing::info!(
        realm = %report.realm,
        users.created = report.created,
        users.kept = report.kept,
        file = %resolved.display(),
        "realm imported"
    );
    Ok(report)
}

/// `identity --rotate-key`: migrates, then makes a new signing key current. Running
/// replicas pick it up within [`crate::app::KEY_REFRESH`]; the previous key stays
/// published. Returns the new kid.
pub async fn rotate_signing_key(config: &Config) -> anyhow::Result<String> {
    let pool = platform::postgres::pool(&config.database)?;
    postgres::migrate(&pool).await?;
    let public_url = config.public_url.clone().unwrap_or_default();
    let kid = use_cases(config, &pool, public_url)?
        .rotate_signing_key()
        .await?;
    pool.close().await;
    Ok(kid)
}
