//! Where the test infrastructure comes from.
//!
//! For each of Postgres, RabbitMQ and Redis, in order:
//! 1. the URL in `IRONVESSEL_TEST_DATABASE_URL` / `IRONVESSEL_TEST_AMQP_URL` /
//!    `IRONVESSEL_TEST_REDIS_URL` (CI and any machine that runs the services);
//! 2. the service on its default local port, if something listens there;
//! 3. a container started with testcontainers (pinned image tag) where Docker is available;
//! 4. otherwise an error naming the variable to set and how to get the service.

use std::{net::SocketAddr, time::Duration};

use testcontainers::{ContainerAsync, ImageExt, runners::AsyncRunner};
use testcontainers_modules::{postgres::Postgres, rabbitmq::RabbitMq, redis::Redis};
use tokio::sync::OnceCell;

/// Pinned container images (used only on the testcontainers path).
pub const POSTGRES_TAG: &str = "15.8-alpine";
/// RabbitMQ image tag.
pub const RABBITMQ_TAG: &str = "3.13.7-management-alpine";
/// Redis image tag.
pub const REDIS_TAG: &str = "7.4.1-alpine";

/// How one dependency is provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Use this URL.
    Url(String),
    /// Start a container.
    Container,
}

/// Decides how to provide a dependency: an explicit URL wins, then a local service on
/// the default port, then a container if Docker is there. Pure, so it is unit-tested.
pub fn select(
    service: &str,
    env_var: &str,
    env_url: Option<String>,
    default_url: &str,
    local_reachable: bool,
    docker_available: bool,
) -> Result<Choice, String> {
    if let Some(url) = env_url.filter(|url| !url.is_empty()) {
        return Ok(Choice::Url(url));
    }
    if local_reachable {
        return Ok(Choice::Url(default_url.to_owned()));
    }
    if docker_available {
        return Ok(Choice::Container);
    }
    Err(format!(
        "no {service} for the tests: set {env_var}, start {service} locally ({default_url}), \
         or make Docker available (DOCKER_HOST or /var/run/docker.sock) so testcontainers can start one"
    ))
}

/// Whether a Docker engine looks reachable.
pub fn docker_available() -> bool {
    std::env::var_os("DOCKER_HOST").is_some()
        || std::path::Path::new("/var/run/docker.sock").exists()
}

async fn reachable(addr: &str) -> bool {
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

/// URLs of the infrastructure the tests use.
#[derive(Debug)]
pub struct Infra {
    /// An admin connection URL (database `postgres`); tests create their databases from it.
    pub database_url: String,
    /// RabbitMQ.
    pub amqp_url: String,
    /// Redis.
    pub redis_url: String,
    // Containers live as long as the process.
    _postgres: Option<ContainerAsync<Postgres>>,
    _rabbitmq: Option<ContainerAsync<RabbitMq>>,
    _redis: Option<ContainerAsync<Redis>>,
}

static INFRA: OnceCell<Infra> = OnceCell::const_new();

/// The process-wide infrastructure, found or started on first use.
pub async fn infra() -> &'static Infra {
    INFRA
        .get_or_init(|| async {
            match discover().await {
                Ok(infra) => infra,
                Err(err) => panic!("{err}"),
            }
        })
        .await
}

async fn discover() -> Result<Infra, String> {
    let docker = docker_available();
    let pg = select(
        "Postgres",
        "IRONVESSEL_TEST_DATABASE_URL",
        std::env::var("IRONVESSEL_TEST_DATABASE_URL").ok(),
        "postgres://postgres@127.0.0.1:5432/postgres",
        reachable("127.0.0.1:5432").await,
        docker,
    )?;
    let amqp = select(
        "RabbitMQ",
        "IRONVESSEL_TEST_AMQP_URL",
        std::env::var("IRONVESSEL_TEST_AMQP_URL").ok(),
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        reachable("127.0.0.1:5672").await,
        docker,
    )?;
    let redis = select(
        "Redis",
        "IRONVESSEL_TEST_REDIS_URL",
        std::env::var("IRONVESSEL_TEST_REDIS_URL").ok(),
        "redis://127.0.0.1:6379",
        reachable("127.0.0.1:6379").await,
        docker,
    )?;
    let container_err = |what: &str, err: testcontainers::TestcontainersError| {
        format!("starting a {what} container failed: {err}")
    };
    let (database_url, postgres) = match pg {
        Choice::Url(url) => (url, None),
        Choice::Container => {
            let c = Postgres::default()
                .with_tag(POSTGRES_TAG)
                .start()
                .await
                .map_err(|e| container_err("Postgres", e))?;
            let port = c
                .get_host_port_ipv4(5432)
                .await
                .map_err(|e| container_err("Postgres", e))?;
            (
                format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres"),
                Some(c),
            )
        }
    };
    let (amqp_url, rabbitmq) = match amqp {
        Choice::Url(url) => (url, None),
        Choice::Container => {
            let c = RabbitMq::default()
                .with_tag(RABBITMQ_TAG)
                .start()
                .await
                .map_err(|e| container_err("RabbitMQ", e))?;
            let port = c
                .get_host_port_ipv4(5672)
                .await
                .map_err(|e| container_err("RabbitMQ", e))?;
            (format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), Some(c))
        }
    };
    let (redis_url, redis_c) = match redis {
        Choice::Url(url) => (url, None),
        Choice::Container => {
            let c = Redis::default()
                .with_tag(REDIS_TAG)
                .start()
                .await
                .map_err(|e| container_err("Redis", e))?;
            let port = c
                .get_host_port_ipv4(6379)
                .await
                .map_err(|e| container_err("Redis", e))?;
            (format!("redis://127.0.0.1:{port}"), Some(c))
        }
    };
    Ok(Infra {
        database_url,
        amqp_url,
        redis_url,
        _postgres: postgres,
        _rabbitmq: rabbitmq,
        _redis: redis_c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    #[test]
    fn an_explicit_url_wins_over_everything() {
        let choice = select(
            "Postgres",
            "X",
            Some("postgres://ci/db".to_owned()),
            DEFAULT,
            true,
            true,
        );
        assert_eq!(choice, Ok(Choice::Url("postgres://ci/db".to_owned())));
    }

    #[test]
    fn a_local_service_is_used_when_no_url_is_given() {
        let choice = select("Postgres", "X", None, DEFAULT, true, true);
        assert_eq!(choice, Ok(Choice::Url(DEFAULT.to_owned())));
    }

    #[test]
    fn docker_is_used_when_nothing_local_answers() {
        assert_eq!(
            select("Postgres", "X", None, DEFAULT, false, true),
            Ok(Choice::Container)
        );
        assert_eq!(
            select("Postgres", "X", Some(String::new()), DEFAULT, false, true),
            Ok(Choice::Container)
        );
    }

    #[test]
    fn neither_gives_a_clear_error_naming_the_variable() {
        let err = select(
            "Postgres",
            "IRONVESSEL_TEST_DATABASE_URL",
            None,
            DEFAULT,
            false,
            false,
        )
        .unwrap_err();
        assert!(err.contains("IRONVESSEL_TEST_DATABASE_URL"), "{err}");
        assert!(err.contains("Docker"), "{err}");
    }
}
