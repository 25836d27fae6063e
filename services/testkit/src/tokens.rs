//! Test tokens: an RSA key pair whose public half a wiremock server publishes as a JWKS,
//! and tokens shaped like Keycloak's, valid or broken in each way a test needs.

use std::sync::OnceLock;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::AuthConfig;
use rsa::{RsaPrivateKey, pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts};
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};

/// The issuer test tokens carry.
pub const ISSUER: &str = "http://identity.test/realms/ironvessel";
/// The audience test tokens carry.
pub const AUDIENCE: &str = "ironvessel";
const JWKS_PATH: &str = "/realms/ironvessel/protocol/openid-connect/certs";

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: serde_json::Value,
}

fn make_key(kid: &str) -> Key {
    // 2048-bit like Keycloak's default; rsa is built optimised in dev (see Cargo.toml).
    let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generation");
    let pem = private
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .expect("PEM encoding");
    let public = private.to_public_key();
    Key {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("valid PEM"),
        jwk: json!({
            "kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }),
    }
}

fn signing_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| make_key("test-key-1"))
}

fn next_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| make_key("test-key-2"))
}

fn rogue_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    // Same kid as the real key: only the signature gives it away.
    KEY.get_or_init(|| make_key("test-key-1"))
}

/// What a token should say (and how it should be broken).
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// `sub`.
    pub subject: String,
    /// Realm roles.
    pub roles: Vec<String>,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Seconds from now until `exp` (negative: already expired).
    pub expires_in: i64,
    /// Sign with a key the JWKS does not hold.
    pub rogue_signature: bool,
    /// Sign with the key the provider publishes after [`TestIdp::rotate`].
    pub next_key: bool,
}

impl TokenSpec {
    /// A valid CUSTOMER token for `subject`.
    pub fn customer(subject: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            roles: vec!["CUSTOMER".to_owned()],
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            expires_in: 300,
            rogue_signature: false,
            next_key: false,
        }
    }

    /// A valid CUSTOMER + MANAGER token for `subject`.
    pub fn manager(subject: &str) -> Self {
        Self {
            roles: vec!["CUSTOMER".to_owned(), "MANAGER".to_owned()],
            ..Self::customer(subject)
        }
    }
}

/// A fake identity provider publishing the test key's JWKS.
#[derive(Debug)]
pub struct TestIdp {
    server: MockServer,
}

impl TestIdp {
    /// Starts the JWKS server.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let key = signing_key();
        Mock::given(path(JWKS_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": [key.jwk] })))
            .mount(&server)
            .await;
        Self { server }
    }

    /// Replaces the published key by a new one (`test-key-2`): tokens signed before no
    /// longer validate once a service fetches the JWKS again.
    pub async fn rotate(&self) {
        self.server.reset().await;
        Mock::given(path(JWKS_PATH))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({ "keys": [next_key().jwk] })),
            )
            .mount(&self.server)
            .await;
    }

    /// Auth settings that trust this provider.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            issuer: ISSUER.to_owned(),
            jwks_url: format!("{}{JWKS_PATH}", self.server.uri()),
            audience: AUDIENCE.to_owned(),
            leeway: std::time::Duration::from_secs(5),
            min_refresh_interval: std::time::Duration::from_secs(10),
            token_cache_size: 10_000,
        }
    }

    /// A signed token.
    pub fn token(&self, spec: &TokenSpec) -> String {
        let key = if spec.rogue_signature {
            rogue_key()
        } else if spec.next_key {
            next_key()
        } else {
            signing_key()
        };
        let now = Utc::now().timestamp();
        let claims = json!({
            "iss": spec.issuer, "aud": spec.audience, "sub": spec.subject, "azp": "ironvessel-web",
            "iat": now, "exp": now + spec.expires_in, "typ": "Bearer",
            "preferred_username": format!("user-{}", spec.subject),
            "realm_access": { "roles": spec.roles },
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).expect("token signing")
    }

    /// A valid CUSTOMER token.
    pub fn customer(&self, subject: &str) -> String {
        self.token(&TokenSpec::customer(subject))
    }

    /// A valid MANAGER token.
    pub fn manager(&self, subject: &str) -> String {
        self.token(&TokenSpec::manager(subject))
    }
}
