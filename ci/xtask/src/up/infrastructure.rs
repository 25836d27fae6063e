//! Postgres, Redis and RabbitMQ for `cargo xtask up`: checks they accept connections,
//! starts them with Docker Compose when they do not and Docker can, or says exactly
//! how to get them; then creates the services' databases.

use std::{
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::{net::TcpStream, time::Instant};
use url::Url;

use super::services::Service;

/// Where the services' databases live unless `IRONVESSEL_DATABASE_URL` says otherwise
/// (any database on the server: `up` connects to it to create the others).
pub(crate) const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long Docker gets to bring the infrastructure up.
const DOCKER_DEADLINE: Duration = Duration::from_secs(120);

/// A piece of infrastructure the services need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    /// Human name.
    pub(crate) name: &'static str,
    /// `host:port` it must accept TCP connections on.
    pub(crate) address: String,
    /// Its service in `docker-compose.yml`.
    pub(crate) compose_service: &'static str,
    /// The Debian/Ubuntu package providing it.
    pub(crate) debian_package: &'static str,
    /// How to start it once installed.
    pub(crate) start_command: &'static str,
}

/// The three dependencies; Postgres's address comes from the database URL.
pub(crate) fn dependencies(database: &Url) -> Vec<Dependency> {
    let postgres = format!(
        "{}:{}",
        database.host_str().unwrap_or("127.0.0.1"),
        database.port().unwrap_or(5432)
    );
    vec![
        Dependency {
            name: "Postgres",
            address: postgres,
            compose_service: "postgres",
            debian_package: "postgresql",
            start_command: "sudo service postgresql start",
        },
        Dependency {
            name: "Redis",
            address: "127.0.0.1:6379".to_owned(),
            compose_service: "redis",
            debian_package: "redis-server",
            start_command: "sudo service redis-server start",
        },
        Dependency {
            name: "RabbitMQ",
            address: "127.0.0.1:5672".to_owned(),
            compose_service: "rabbitmq",
            debian_package: "rabbitmq-server",
            start_command: "sudo service rabbitmq-server start",
        },
    ]
}

/// What Docker can do for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Docker {
    /// `docker info` succeeds.
    Running,
    /// The CLI is there, the engine does not answer.
    EngineDown,
    /// No `docker` on the PATH.
    Missing,
}

impl Docker {
    fn detect() -> Self {
        match Command::new("docker")
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(status) if status.success() => Self::Running,
            Ok(_) => Self::EngineDown,
            Err(_) => Self::Missing,
        }
    }
}

/// Makes sure every dependency accepts connections: as found, or started with Docker.
pub(crate) async fn ensure(root: &Path, database: &Url) -> Result<()> {
    let dependencies = dependencies(database);
    let missing = unreachable(&dependencies).await;
    if missing.is_empty() {
        println!("infrastructure: Postgres, Redis and RabbitMQ accept connections");
        return Ok(());
    }
    let docker = Docker::detect();
    if docker != Docker::Running {
        bail!("{}", missing_message(&missing, docker));
    }
    let services: Vec<&str> = missing.iter().map(|d| d.compose_service).collect();
    println!(
        "infrastructure: starting {} with Docker Compose",
        services.join(", ")
    );
    let compose_file = root.join("docker-compose.yml");
    let status = Command::new("docker")
        .args(["compose", "-f"])
        .arg(&compose_file)
        .args(["up", "-d"])
        .args(&services)
        .status()
        .context("could not run `docker compose`")?;
    if !status.success() {
        bail!(
            "`docker compose up -d {}` failed with {status}",
            services.join(" ")
        );
    }
    let deadline = Instant::now() + DOCKER_DEADLINE;
    loop {
        let still_missing = unreachable(&missing).await;
        if still_missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let names: Vec<String> = still_missing
                .iter()
                .map(|d| format!("{} ({})", d.name, d.address))
                .collect();
            bail!(
                "started with Docker Compose, but after {}s {} still refuse connections; \
                 see `docker compose logs`",
                DOCKER_DEADLINE.as_secs(),
                names.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn unreachable(dependencies: &[Dependency]) -> Vec<Dependency> {
    let mut missing = Vec::new();
    for dependency in dependencies {
        if !accepts_connections(&dependency.address).await {
            missing.push(dependency.clone());
        }
    }
    missing
}

/// Whether something accepts a TCP connection at `address` within a second.
pub(crate) async fn accepts_connections(address: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(address)).await,
        Ok(Ok(_))
    )
}

/// Whether a local port is taken: connecting to it succeeds.
pub(crate) async fn port_in_use(port: u16) -> bool {
    accepts_connections(&SocketAddr::from(([127, 0, 0, 1], port)).to_string()).await
}

/// What to tell the user when `missing` is down and Docker cannot help.
pub(crate) fn missing_message(missing: &[Dependency], docker: Docker) -> String {
    let mut message = String::from("the shop needs infrastructure that is not running:\n");
    for dependency in missing {
        message.push_str(&format!(
            "  - {} (nothing accepts connections on {}): install it with \
             `sudo apt-get install {}` and start it with `{}`\n",
            dependency.name,
            dependency.address,
            dependency.debian_package,
            dependency.start_command
        ));
    }
    let services: Vec<&str> = missing.iter().map(|d| d.compose_service).collect();
    message.push_str(&format!(
        "or let Docker run it: {} then `cargo xtask up` runs \
         `docker compose -f docker-compose.yml up -d {}` itself.",
        match docker {
            Docker::Missing => "install Docker (https://docs.docker.com/engine/install/);",
            Docker::EngineDown =>
                "`docker` is installed but `docker info` fails: start its engine;",
            Docker::Running => "Docker is running;",
        },
        services.join(" ")
    ));
    if missing.iter().any(|d| d.compose_service == "postgres") {
        message.push_str(
            "\nPostgres must let the user `postgres` in without a password from 127.0.0.1, \
             or set IRONVESSEL_DATABASE_URL.",
        );
    }
    message
}

/// Creates every service's database that does not exist yet.
pub(crate) async fn create_databases(database: &Url, services: &[Service]) -> Result<()> {
    let mut connection = PgConnection::connect(database.as_str())
        .await
        .with_context(|| format!("could not connect to Postgres at {}", redacted(database)))?;
    for name in services.iter().filter_map(|service| service.database) {
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut connection)
                .await
                .with_context(|| format!("could not look up database {name}"))?;
        if exists.is_none() {
            // The names come from the SERVICES table, never from input.
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut connection)
                .await
                .with_context(|| format!("could not create database {name}"))?;
            println!("database {name}: created");
        }
    }
    connection.close().await.ok();
    Ok(())
}

/// The URL without its password, for messages.
pub(crate) fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Only fails for URLs that cannot have a password, which this one has.
        url.set_password(Some("***")).ok();
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Url {
        Url::parse(DEFAULT_DATABASE_URL).unwrap()
    }

    #[test]
    fn the_missing_message_names_what_is_down_and_how_to_get_it() {
        let all = dependencies(&local());
        let missing = vec![all[0].clone(), all[2].clone()];
        let message = missing_message(&missing, Docker::Missing);
        assert!(message.contains("Postgres (nothing accepts connections on 127.0.0.1:5432)"));
        assert!(message.contains("sudo apt-get install postgresql"));
        assert!(message.contains("sudo service postgresql start"));
        assert!(message.contains("RabbitMQ (nothing accepts connections on 127.0.0.1:5672)"));
        assert!(message.contains("sudo apt-get install rabbitmq-server"));
        assert!(!message.contains("Redis"), "Redis is up: {message}");
        assert!(message.contains("install Docker"));
        assert!(message.contains("up -d postgres rabbitmq"));
        assert!(message.contains("IRONVESSEL_DATABASE_URL"));
    }

    #[test]
    fn the_missing_message_says_when_the_docker_engine_is_down() {
        let redis = dependencies(&local()).remove(1);
        let message = missing_message(&[redis], Docker::EngineDown);
        assert!(message.contains("start its engine"), "{message}");
        assert!(message.contains("sudo apt-get install redis-server"));
        assert!(!message.contains("IRONVESSEL_DATABASE_URL"), "{message}");
    }

    #[test]
    fn postgres_is_checked_where_the_database_url_points() {
        let url = Url::parse("postgres://u:secret@db.internal:6543/postgres").unwrap();
        assert_eq!(dependencies(&url)[0].address, "db.internal:6543");
        assert_eq!(redacted(&url), "postgres://u:***@db.internal:6543/postgres");
    }
}
