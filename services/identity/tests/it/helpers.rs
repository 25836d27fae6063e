//! Spawning the service for a test, and talking to it like a Keycloak client.

use std::{net::SocketAddr, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use identity::{
    app::Identity,
    config::Config,
    postgres::PgIdentityStore,
    startup::{App, REALM},
};
use platform::auth::{AuthConfig, Authenticator};
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use testkit::TestDatabase;
use tokio_util::sync::CancellationToken;

pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

pub(crate) const TOMMY_ID: &str = "c908ce9d-faec-4570-b84d-71a4e77f2f4a";
pub(crate) const VADER_ID: &str = "47ac2317-2da2-457a-90d6-48d5a0f9739a";
pub(crate) const LORNE_ID: &str = "37a2191e-85a0-4bad-a853-1f29559c3092";
pub(crate) const WEB: &str = "ironvessel-web";
pub(crate) const ACCOUNT: &str = "ironvessel-account";

/// The account client's secret: the realm file's default unless the environment sets it.
pub(crate) fn account_secret() -> String {
    std::env::var("IRONVESSEL_ACCOUNT_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "dev-account-secret".to_owned())
}

/// Overrides of the test config.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    pub(crate) access_token_lifespan: Option<Duration>,
    pub(crate) brute_force_wait: Option<Duration>,
    pub(crate) signing_key_pem: Option<String>,
}

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) identity: Identity<PgIdentityStore>,
    pub(crate) auth: AuthConfig,
    config: Config,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the database outlives the app's pool.
    _db: TestDatabase,
}

async fn start(config: Config) -> (App, CancellationToken) {
    let app = App::build(config).await.expect("identity builds");
    (app, CancellationToken::new())
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub(crate) async fn spawn_with(options: Options) -> Self {
        platform::telemetry::init_for_tests();
        let db = TestDatabase::create(
            "identity",
            &identity::postgres::schema_fingerprint(),
            identity::postgres::migrate_boxed,
        )
        .await
        .expect("test database");
        let mut config = Config::for_tests(&db.url);
        config.access_token_lifespan = options.access_token_lifespan;
        config.brute_force_wait = options.brute_force_wait;
        config.signing_key_pem = options.signing_key_pem.map(SecretString::from);
        let (app, shutdown) = start(config.clone()).await;
        let mut test = Self {
            base: String::new(),
            client: reqwest::Client::new(),
            identity: app.identity(),
            auth: app.auth_config(REALM),
            config,
            shutdown,
            task: None,
            _db: db,
        };
        test.run(app);
        test
    }

    fn run(&mut self, app: App) {
        let addr: SocketAddr = app.local_addr().expect("bound");
        assert_eq!(app.base_url(), format!("http://{addr}"));
        self.base = app.base_url().to_owned();
        self.identity = app.identity();
        self.auth = app.auth_config(REALM);
        self.task = Some(tokio::spawn(app.run(self.shutdown.clone())));
    }

    /// Stops the service gracefully and starts it again on the same database (which
    /// imports the realm file again).
    pub(crate) async fn restart(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task").expect("app stopped cleanly");
        }
        let (app, shutdown) = start(self.config.clone()).await;
        self.shutdown = shutdown;
        self.run(app);
    }

    /// The config the app runs with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn issuer(&self) -> String {
        format!("{}/realms/{REALM}", self.base)
    }

    pub(crate) fn authenticator(&self) -> Authenticator {
        Authenticator::new(self.auth.clone())
    }

    /// POSTs a form to the realm's token endpoint.
    pub(crate) async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/realms/ironvessel/protocol/openid-connect/token"))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// The password grant through the public web client.
    pub(crate) async fn password_grant(&self, username: &str, password: &str) -> Response {
        self.token_request(&[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    /// A successful password grant's response body.
    pub(crate) async fn login(&self, username: &str, password: &str) -> Value {
        let response = self.password_grant(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        response.json().await.expect("token JSON")
    }

    /// An access token of the account service's service account (manage-users).
    pub(crate) async fn admin_token(&self) -> String {
        let response = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", ACCOUNT),
                ("client_secret", &account_secret()),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A request to the admin API with `token` (none: no Authorization header).
    pub(crate) fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, self.url(&format!("/admin/realms/ironvessel{path}")));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub(crate) async fn set_enabled(&self, id: &str, enabled: bool) {
        let response = self
            .admin(
                reqwest::Method::PUT,
                &format!("/users/{id}"),
                Some(&self.admin_token().await),
            )
            .json(&serde_json::json!({ "enabled": enabled }))
            .send()
            .await
            .expect("update");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The (unverified) claims of a JWT.
pub(crate) fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

/// The (unverified) header of a JWT.
pub(crate) fn header(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWT has a header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url"))
        .expect("JSON header")
}

/// Status and JSON body.
pub(crate) async fn answer(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
