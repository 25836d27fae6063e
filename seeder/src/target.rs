//! Where to load: one Postgres database per service, and the safety rules for pointing the
//! seeder at them.
//!
//! Configuration comes from the environment or from a file of the same `KEY=value` lines
//! (`--config`); a variable in the environment wins over the file.
//!
//! | variable | default |
//! |---|---|
//! | `SEEDER_IDENTITY_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/identity` |
//! | `SEEDER_ACCOUNT_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/account` |
//! | `SEEDER_INVENTORY_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/inventory` |
//! | `SEEDER_ORDER_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/orders` |
//! | `SEEDER_PAYMENT_DATABASE_URL` (or `_FILE`) | `postgres://postgres@127.0.0.1:5432/payment` |
//! | `SEEDER_DATABASE_PASSWORD` (or `_FILE`) | unset: the password for every URL that has none |
//! | `SEEDER_DATABASE_SSLMODE` | unset: for every URL without `sslmode` (`verify-full` for RDS) |
//! | `SEEDER_DATABASE_SSLROOTCERT` | unset: the CA file for every URL without `sslrootcert` |
//! | `SEEDER_USER_PASSWORD` (or `_FILE`) | [`crate::generate::LOAD_TEST_PASSWORD`]: the seeded users' password |
//!
//! Passwords are never accepted on the command line and never printed: targets print as
//! `user@host:port/database`.
//!
//! The rules ([`check`]): a host other than this machine must be named with
//! `--confirm-host`, must use `sslmode=verify-full` (unless `--insecure-tls`), and a CA
//! file that is named must exist. They are checked before the first connection.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use platform::config::Env;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::postgres::PgConnectOptions;

/// The services that own a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Users, credentials, roles.
    Identity,
    /// Addresses.
    Account,
    /// Products.
    Inventory,
    /// Orders.
    Order,
    /// Payments, carts and the customer projection.
    Payment,
}

impl Service {
    /// Every service, in loading order.
    pub const ALL: [Self; 5] = [
        Self::Identity,
        Self::Account,
        Self::Inventory,
        Self::Payment,
        Self::Order,
    ];

    /// `identity`, `account`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Account => "account",
            Self::Inventory => "inventory",
            Self::Order => "order",
            Self::Payment => "payment",
        }
    }

    /// The local development database (SPEC §1).
    pub fn default_database(self) -> &'static str {
        match self {
            Self::Order => "orders",
            other => other.name(),
        }
    }

    fn env_name(self) -> String {
        format!("{}_DATABASE_URL", self.name().to_uppercase())
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One service's database.
#[derive(Clone)]
pub struct Target {
    /// The service.
    pub service: Service,
    url: SecretString,
    /// The host name (or a socket directory).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The database name.
    pub database: String,
    /// The user name.
    pub user: String,
    /// `sslmode`, as given (`None`: the driver's default, `prefer`).
    pub ssl_mode: Option<String>,
    /// `sslrootcert`, as given.
    pub ssl_root_cert: Option<PathBuf>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({}: {self})", self.service)
    }
}

impl fmt::Display for Target {
    /// `user@host:port/database`: never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

impl Target {
    /// A target from a URL (`postgres://user[:password]@host[:port]/database[?sslmode=...]`).
    pub fn from_url(service: Service, url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).map_err(|err| {
            anyhow::anyhow!("the {service} database URL is not a valid URL: {err}")
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            bail!(
                "the {service} database URL must start with postgres:// (got {}://)",
                parsed.scheme()
            );
        }
        let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        let host = query
            .get("host")
            .cloned()
            .or_else(|| parsed.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        let database = parsed.path().trim_start_matches('/').to_owned();
        if database.is_empty() {
            bail!("the {service} database URL names no database");
        }
        Ok(Self {
            service,
            url: SecretString::from(url.to_owned()),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: parsed.port().unwrap_or(5432),
            database,
            user: if parsed.username().is_empty() {
                "postgres".to_owned()
            } else {
                parsed.username().to_owned()
            },
            ssl_mode: query.get("sslmode").cloned(),
            ssl_root_cert: query
                .get("sslrootcert")
                .or_else(|| query.get("ssl-root-cert"))
                .map(PathBuf::from),
        })
    }

    /// The same target with another database name (the benchmark's scratch databases).
    pub fn with_database(&self, service: Service, database: &str) -> anyhow::Result<Self> {
        let mut url = url::Url::parse(self.url.expose_secret())?;
        url.set_path(&format!("/{database}"));
        Self::from_url(service, url.as_str())
    }

    /// A command for a libpq tool (pgbench) with this target's connection settings in
    /// its environment, so the password never appears on a command line.
    pub(crate) fn pg_command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user);
        if let Ok(url) = url::Url::parse(self.url.expose_secret())
            && let Some(password) = url.password()
        {
            command.env("PGPASSWORD", percent_decode(password));
        }
        if let Some(mode) = &self.ssl_mode {
            command.env("PGSSLMODE", mode);
        }
        if let Some(cert) = &self.ssl_root_cert {
            command.env("PGSSLROOTCERT", cert);
        }
        command
    }

    /// Whether the host is this machine (loopback or a Unix socket).
    pub fn is_local(&self) -> bool {
        let host = self.host.as_str();
        host.starts_with('/')
            || host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    fn apply_defaults(&mut self, defaults: &Defaults) -> anyhow::Result<()> {
        let mut url = url::Url::parse(self.url.expose_secret())?;
        if url.password().is_none()
            && let Some(password) = &defaults.password
        {
            url.set_password(Some(password.expose_secret()))
                .map_err(|()| {
                    anyhow::anyhow!("cannot set a password on the {} URL", self.service)
                })?;
        }
        if self.ssl_mode.is_none()
            && let Some(mode) = &defaults.ssl_mode
        {
            url.query_pairs_mut().append_pair("sslmode", mode);
        }
        if self.ssl_root_cert.is_none()
            && let Some(cert) = &defaults.ssl_root_cert
        {
            url.query_pairs_mut().append_pair("sslrootcert", cert);
        }
        *self = Self::from_url(self.service, url.as_str())?;
        Ok(())
    }

    /// Connection options: the URL's, plus asynchronous commit (safe here: a batch and
    /// its progress row commit together, so a lost commit loses both) and our name.
    pub(crate) fn connect_options(&self) -> anyhow::Result<PgConnectOptions> {
        let options: PgConnectOptions = self
            .url
            .expose_secret()
            .parse()
            .with_context(|| format!("the {} database URL ({self})", self.service))?;
        Ok(options
            .application_name("ironvessel-seeder")
            .options([("synchronous_commit", "off")]))
    }
}

/// Undoes a URL's percent-encoding (`%40` → `@`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Settings applied to every URL that lacks them.
#[derive(Debug, Default)]
struct Defaults {
    password: Option<SecretString>,
    ssl_mode: Option<String>,
    ssl_root_cert: Option<String>,
}

/// The five databases.
#[derive(Debug, Clone)]
pub struct Targets {
    targets: Vec<Target>,
}

impl Targets {
    /// Targets from one URL per service.
    pub fn from_urls(urls: &[(Service, &str)]) -> anyhow::Result<Self> {
        let mut targets = Vec::new();
        for service in Service::ALL {
            let url = urls
                .iter()
                .find(|(s, _)| *s == service)
                .map(|(_, url)| *url)
                .with_context(|| format!("no database URL for {service}"))?;
            targets.push(Target::from_url(service, url)?);
        }
        Ok(Self { targets })
    }

    /// Targets from one target per service.
    pub(crate) fn from_targets(targets: Vec<Target>) -> Self {
        Self { targets }
    }

    /// Targets from `SEEDER_*` variables (see the module documentation).
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let password = (env.raw("DATABASE_PASSWORD").is_some()
            || env.raw("DATABASE_PASSWORD_FILE").is_some())
        .then(|| env.secret("DATABASE_PASSWORD", ""))
        .transpose()?;
        let defaults = Defaults {
            password,
            ssl_mode: env.raw("DATABASE_SSLMODE"),
            ssl_root_cert: env.raw("DATABASE_SSLROOTCERT"),
        };
        let mut targets = Vec::new();
        for service in Service::ALL {
            let default = format!(
                "postgres://postgres@127.0.0.1:5432/{}",
                service.default_database()
            );
            let url = env.secret(&service.env_name(), &default)?;
            let mut target = Target::from_url(service, url.expose_secret())
                .with_context(|| env.var(&service.env_name()))?;
            target.apply_defaults(&defaults)?;
            targets.push(target);
        }
        Ok(Self { targets })
    }

    /// The target of `service`.
    pub fn get(&self, service: Service) -> &Target {
        self.targets
            .iter()
            .find(|t| t.service == service)
            .unwrap_or_else(|| unreachable!("every service has a target by construction"))
    }

    /// Every target, in loading order.
    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter()
    }

    /// The same targets with other database names (scratch databases).
    pub fn renamed(&self, name: impl Fn(Service) -> String) -> anyhow::Result<Self> {
        let targets = self
            .targets
            .iter()
            .map(|t| t.with_database(t.service, &name(t.service)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { targets })
    }
}

/// Reads a `KEY=value` file (blank lines and `#` comments allowed) for [`env_with_file`].
pub fn read_config_file(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let mut values = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').with_context(|| {
            format!("{} line {}: expected KEY=value", path.display(), number + 1)
        })?;
        let value = value.trim().trim_matches('"');
        values.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(values)
}

/// `SEEDER_*` variables from the process environment, falling back to `file`'s values.
pub fn env_with_file(file: HashMap<String, String>) -> Env {
    Env::with_lookup("SEEDER", move |name| {
        std::env::var(name).ok().or_else(|| file.get(name).cloned())
    })
}

/// What the caller allows.
#[derive(Debug, Clone, Default)]
pub struct Safety {
    /// Hosts other than this machine the caller confirmed (`--confirm-host`).
    pub confirmed_hosts: Vec<String>,
    /// Allow a remote host without `sslmode=verify-full` (`--insecure-tls`).
    pub insecure_tls: bool,
}

/// Checks the targets against the rules before anything connects; the error lists every
/// refusal.
pub fn check(targets: &Targets, safety: &Safety, writing: bool) -> anyhow::Result<()> {
    let mut refusals = Vec::new();
    for target in targets.iter() {
        let service = target.service;
        if let Some(cert) = &target.ssl_root_cert
            && !cert.is_file()
        {
            refusals.push(format!(
                "{service} ({target}): the CA file {} (sslrootcert) does not exist",
                cert.display()
            ));
        }
        let mode = target.ssl_mode.as_deref().unwrap_or("prefer");
        if matches!(mode, "verify-full" | "verify-ca") && target.ssl_root_cert.is_none() {
            refusals.push(format!(
                "{service} ({target}): sslmode={mode} needs a CA file: add sslrootcert=<file> \
                 to the URL or set SEEDER_DATABASE_SSLROOTCERT (for RDS, the global bundle)"
            ));
        }
        if target.is_local() {
            continue;
        }
        if writing
            && !safety
                .confirmed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&target.host))
        {
            refusals.push(format!(
                "{service} ({target}): {} is not this machine; pass --confirm-host {} to write to it",
                target.host, target.host
            ));
        }
        if mode != "verify-full" && !safety.insecure_tls {
            refusals.push(format!(
                "{service} ({target}): a remote database needs sslmode=verify-full with a CA \
                 file (got sslmode={mode}); --insecure-tls overrides this"
            ));
        }
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        bail!(
            "refusing to touch the databases; nothing was written:\n  - {}",
            refusals.join("\n  - ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(url: impl Fn(Service) -> String) -> Targets {
        let urls: Vec<(Service, String)> = Service::ALL.iter().map(|s| (*s, url(*s))).collect();
        let borrowed: Vec<(Service, &str)> = urls.iter().map(|(s, u)| (*s, u.as_str())).collect();
        Targets::from_urls(&borrowed).unwrap()
    }

    #[test]
    fn percent_encoded_passwords_are_decoded_for_libpq() {
        assert_eq!(percent_decode("p%40ss%2Fw0rd%"), "p@ss/w0rd%");
    }

    #[test]
    fn targets_print_without_their_password() {
        let target =
            Target::from_url(Service::Identity, "postgres://app:s3cret@db:6543/identity").unwrap();
        assert_eq!(target.to_string(), "app@db:6543/identity");
        assert!(!format!("{target:?}").contains("s3cret"));
    }

    #[test]
    fn local_hosts_need_no_confirmation() {
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            let all = targets(|s| format!("postgres://postgres@{host}/{}", s.name()));
            assert!(all.iter().all(Target::is_local), "{host}");
            check(&all, &Safety::default(), true).unwrap();
        }
    }

    #[test]
    fn a_remote_host_needs_confirmation_and_verified_tls() {
        let all = targets(|s| format!("postgres://app@db.example.com/{}", s.name()));
        let err = check(&all, &Safety::default(), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--confirm-host db.example.com"), "{err}");
        assert!(err.contains("sslmode=verify-full"), "{err}");
        let confirmed = Safety {
            confirmed_hosts: vec!["db.example.com".to_owned()],
            insecure_tls: true,
        };
        check(&all, &confirmed, true).unwrap();
        // Reading (verify) needs no confirmation, only TLS.
        let err = check(&all, &Safety::default(), false)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("--confirm-host"), "{err}");
    }

    #[test]
    fn a_missing_ca_file_is_refused() {
        let all = targets(|s| {
            format!(
                "postgres://app@db.example.com/{}?sslmode=verify-full&sslrootcert=/nonexistent/rds.pem",
                s.name()
            )
        });
        let safety = Safety {
            confirmed_hosts: vec!["db.example.com".to_owned()],
            insecure_tls: false,
        };
        let err = check(&all, &safety, true).unwrap_err().to_string();
        assert!(err.contains("the CA file /nonexistent/rds.pem"), "{err}");
    }

    #[test]
    fn env_defaults_fill_in_password_and_tls() {
        let env = Env::with_lookup("SEEDER", |name| match name {
            "SEEDER_IDENTITY_DATABASE_URL" => Some("postgres://app@db.example.com/idp".to_owned()),
            "SEEDER_DATABASE_PASSWORD" => Some("pw".to_owned()),
            "SEEDER_DATABASE_SSLMODE" => Some("verify-full".to_owned()),
            "SEEDER_DATABASE_SSLROOTCERT" => Some("/etc/rds.pem".to_owned()),
            _ => None,
        });
        let all = Targets::from_env(&env).unwrap();
        let identity = all.get(Service::Identity);
        assert_eq!(identity.database, "idp");
        assert_eq!(identity.ssl_mode.as_deref(), Some("verify-full"));
        assert_eq!(
            identity.ssl_root_cert.as_deref(),
            Some(Path::new("/etc/rds.pem"))
        );
        assert!(identity.url.expose_secret().contains(":pw@"));
        assert_eq!(all.get(Service::Order).database, "orders");
    }
}
