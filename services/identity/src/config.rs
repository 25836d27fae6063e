//! The identity service's configuration, from `IDENTITY_*` variables.
//!
//! | variable | default |
//! |---|---|
//! | `IDENTITY_HTTP_HOST`, `IDENTITY_HTTP_PORT` | `0.0.0.0`, `9876` |
//! | `IDENTITY_HTTP_BODY_LIMIT_BYTES`, `IDENTITY_HTTP_REQUEST_TIMEOUT_MS` | `65536`, `10000` |
//! | `IDENTITY_INSTANCE_ID` | `HOSTNAME`, else `identity-<pid>` |
//! | `IDENTITY_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/identity` |
//! | `IDENTITY_DATABASE_MAX_CONNECTIONS`, `IDENTITY_DATABASE_ACQUIRE_TIMEOUT_MS` | `10`, `2000` |
//! | `IDENTITY_PUBLIC_URL` | `http://127.0.0.1:9876`: issuers are `<url>/realms/<realm>` |
//! | `IDENTITY_REALM_FILE` | `services/identity/realms/ironvessel-realm.json`, relative to the working directory or else to the workspace root; `none` imports nothing |
//! | `IDENTITY_ACCESS_TOKEN_LIFESPAN_S` | unset: the realm's `accessTokenLifespan` |
//! | `IDENTITY_BRUTE_FORCE_WAIT_S` | unset: the realm's `waitIncrementSeconds` |
//! | `IDENTITY_PASSWORD_HASH_MEMORY_KIB`, `IDENTITY_PASSWORD_HASH_ITERATIONS` | `19456`, `2` (argon2id) |
//! | `IDENTITY_PASSWORD_HASH_CONCURRENCY` | the CPU count (hashes at once; each holds its memory) |
//! | `IDENTITY_SIGNING_KEY_PEM` (or `_FILE`) | unset: a key generated once and kept in the database |
//!
//! The realm file's `${VAR}` / `${VAR:default}` placeholders read the process
//! environment (e.g. `IRONVESSEL_ACCOUNT_CLIENT_SECRET`). Logging and tracing use
//! `RUST_LOG`, `LOG_FORMAT` and `OTEL_EXPORTER_OTLP_ENDPOINT`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use platform::config::{ConfigError, DatabaseConfig, Env, HttpConfig};
use secrecy::SecretString;

use crate::password::PasswordHashConfig;

/// The service name: config prefix, database, log field.
pub const SERVICE: &str = "identity";
/// The dev port (SPEC §1).
pub const DEFAULT_PORT: u16 = 9876;
/// The default public URL.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:9876";
/// The default realm file, relative to the workspace root.
pub const DEFAULT_REALM_FILE: &str = "services/identity/realms/ironvessel-realm.json";

/// The bundled realm file (`realms/ironvessel-realm.json` of this crate), as an absolute
/// path: what tests of other services pass as [`Config::realm_file`].
pub fn bundled_realm_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("realms/ironvessel-realm.json")
}

/// Finds a realm file: as given (absolute, or relative to the working directory), else
/// relative to the workspace root this crate was built in.
pub fn resolve_realm_file(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidate = workspace_root.join(path);
    if candidate.exists() {
        candidate
    } else {
        path.to_path_buf()
    }
}

/// Everything the service reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP server.
    pub http: HttpConfig,
    /// Postgres.
    pub database: DatabaseConfig,
    /// The URL clients reach us at; `None`: `http://<bound address>` (with `0.0.0.0`
    /// read as `127.0.0.1`), which is what tests on port 0 want.
    pub public_url: Option<String>,
    /// The Keycloak realm export imported at start-up; `None`: import nothing.
    pub realm_file: Option<PathBuf>,
    /// Overrides the realms' access-token lifespan.
    pub access_token_lifespan: Option<Duration>,
    /// Overrides the realms' brute-force lock length.
    pub brute_force_wait: Option<Duration>,
    /// argon2id cost of new password hashes.
    pub password_hash: PasswordHashConfig,
    /// A signing key to use instead of a generated one (PKCS#1 or PKCS#8 PEM).
    pub signing_key_pem: Option<SecretString>,
}

impl Config {
    /// Reads `IDENTITY_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::new("IDENTITY"))
    }

    /// Reads the config from `env`.
    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        let defaults = PasswordHashConfig::default();
        let realm_file = env.string("REALM_FILE", DEFAULT_REALM_FILE);
        let signing_key_pem =
            if env.raw("SIGNING_KEY_PEM").is_some() || env.raw("SIGNING_KEY_PEM_FILE").is_some() {
                Some(env.secret("SIGNING_KEY_PEM", "")?)
            } else {
                None
            };
        Ok(Self {
            http: HttpConfig::from_env(env, SERVICE, DEFAULT_PORT)?,
            database: DatabaseConfig::from_env(env, SERVICE)?,
            public_url: Some(env.string("PUBLIC_URL", DEFAULT_PUBLIC_URL)),
            realm_file: (!realm_file.eq_ignore_ascii_case("none"))
                .then(|| PathBuf::from(realm_file)),
            access_token_lifespan: env
                .optional::<u64>("ACCESS_TOKEN_LIFESPAN_S")?
                .map(Duration::from_secs),
            brute_force_wait: env
                .optional::<u64>("BRUTE_FORCE_WAIT_S")?
                .map(Duration::from_secs),
            password_hash: PasswordHashConfig {
                memory_kib: env.get("PASSWORD_HASH_MEMORY_KIB", defaults.memory_kib)?,
                iterations: env.get("PASSWORD_HASH_ITERATIONS", defaults.iterations)?,
                concurrency: env.get("PASSWORD_HASH_CONCURRENCY", defaults.concurrency)?,
            },
            signing_key_pem,
        })
    }

    /// A config for tests (this crate's and other services'): `127.0.0.1` on port 0, the
    /// given database, the bundled realm, the public URL taken from the bound address,
    /// the cheapest argon2 cost, and a generated signing key.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            http: HttpConfig {
                host: "127.0.0.1".to_owned(),
                port: 0,
                body_limit_bytes: 64 * 1024,
                request_timeout: Duration::from_secs(10),
                instance_id: "identity-test".to_owned(),
            },
            database: DatabaseConfig {
                url: SecretString::from(database_url.to_owned()),
                max_connections: 5,
                acquire_timeout: Duration::from_secs(2),
            },
            public_url: None,
            realm_file: Some(bundled_realm_file()),
            access_token_lifespan: None,
            brute_force_wait: None,
            password_hash: PasswordHashConfig::cheapest(),
            signing_key_pem: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::with_lookup("IDENTITY", move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_dev_setup() {
        let config = Config::from(&env(&[])).unwrap();
        assert_eq!(config.http.port, 9876);
        assert_eq!(config.public_url.as_deref(), Some("http://127.0.0.1:9876"));
        assert_eq!(
            platform::config::expose(&config.database.url),
            "postgres://postgres@127.0.0.1:5432/identity"
        );
        assert_eq!(config.realm_file, Some(PathBuf::from(DEFAULT_REALM_FILE)));
        assert_eq!(config.password_hash, PasswordHashConfig::default());
        assert!(config.access_token_lifespan.is_none());
        assert!(config.signing_key_pem.is_none());
    }

    #[test]
    fn overrides_are_read() {
        let config = Config::from(&env(&[
            ("IDENTITY_ACCESS_TOKEN_LIFESPAN_S", "1"),
            ("IDENTITY_BRUTE_FORCE_WAIT_S", "2"),
            ("IDENTITY_PASSWORD_HASH_MEMORY_KIB", "64"),
            ("IDENTITY_PASSWORD_HASH_ITERATIONS", "1"),
            ("IDENTITY_PASSWORD_HASH_CONCURRENCY", "3"),
            ("IDENTITY_REALM_FILE", "none"),
            ("IDENTITY_SIGNING_KEY_PEM", "-----BEGIN"),
        ]))
        .unwrap();
        assert_eq!(config.access_token_lifespan, Some(Duration::from_secs(1)));
        assert_eq!(config.brute_force_wait, Some(Duration::from_secs(2)));
        assert_eq!(config.password_hash.memory_kib, 64);
        assert_eq!(config.password_hash.concurrency, 3);
        assert_eq!(config.realm_file, None);
        assert_eq!(
            config.signing_key_pem.unwrap().expose_secret(),
            "-----BEGIN"
        );
    }

    #[test]
    fn the_default_realm_file_resolves_from_the_workspace_root() {
        let resolved = resolve_realm_file(Path::new(DEFAULT_REALM_FILE));
        assert!(resolved.exists(), "{}", resolved.display());
        assert!(bundled_realm_file().exists());
    }
}
