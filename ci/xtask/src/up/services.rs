//! The shop as `cargo xtask up` runs it: the one table of services, `--replicas`, and
//! the plan of processes (ports, instance ids, environment) derived from them.
//!
//! Everything here is pure, so the port arithmetic and the gateway's replica lists are
//! unit-tested without starting anything.

use std::{collections::BTreeMap, fmt, str::FromStr};

use url::Url;

/// When a service starts relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// Identity: every other service fetches its keys.
    Provider,
    /// The services behind the gateway.
    Backend,
    /// The gateway, once everything behind it answers.
    Edge,
}

/// One service of the shop.
#[derive(Debug)]
pub(crate) struct Service {
    /// Short name: log prefix, instance ids, `--replicas` key.
    pub(crate) name: &'static str,
    /// The cargo package (and binary) name.
    pub(crate) package: &'static str,
    /// Its dev port (SPEC §1); replica `i` (0-based) listens on `port + 100·i`.
    pub(crate) port: u16,
    /// Prefix of its environment variables (`INVENTORY` → `INVENTORY_HTTP_PORT`).
    pub(crate) env_prefix: &'static str,
    /// Its database, created by `up` if missing.
    pub(crate) database: Option<&'static str>,
    /// What answers 200 once it can serve.
    pub(crate) health_path: &'static str,
    /// Whether it takes `<PREFIX>_SEED_DEMO=true`.
    pub(crate) seeds_demo: bool,
    /// The gateway pool routing to it (`GATEWAY_<pool>_URLS`), if any.
    pub(crate) gateway_pool: Option<&'static str>,
    /// When it starts.
    pub(crate) stage: Stage,
}

// Names are unique in the table, so they identify a service.
impl PartialEq for Service {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Service {}

/// Every service, in start order.
pub(crate) const SERVICES: &[Service] = &[
    Service {
        name: "identity",
        package: "identity",
        port: 9876,
        env_prefix: "IDENTITY",
        database: Some("identity"),
        health_path: "/health/ready",
        // Identity imports its realm file (with the demo users) by default.
        seeds_demo: false,
        gateway_pool: Some("IDENTITY"),
        stage: Stage::Provider,
    },
    Service {
        name: "inventory",
        package: "inventory",
        port: 8082,
        env_prefix: "INVENTORY",
        database: Some("inventory"),
        health_path: "/health/ready",
        seeds_demo: true,
        gateway_pool: Some("INVENTORY"),
        stage: Stage::Backend,
    },
    Service {
        name: "account",
        package: "account",
        port: 8081,
        env_prefix: "ACCOUNT",
        database: Some("account"),
        health_path: "/health/ready",
        seeds_demo: true,
        gateway_pool: Some("ACCOUNT"),
        stage: Stage::Backend,
    },
    Service {
        name: "payment",
        package: "payment",
        port: 8084,
        env_prefix: "PAYMENT",
        database: Some("payment"),
        health_path: "/health/ready",
        seeds_demo: true,
        gateway_pool: Some("PAYMENT"),
        stage: Stage::Backend,
    },
    Service {
        name: "order",
        package: "order",
        port: 8083,
        env_prefix: "ORDER",
        database: Some("orders"),
        health_path: "/health/ready",
        seeds_demo: true,
        gateway_pool: Some("ORDER"),
        stage: Stage::Backend,
    },
    Service {
        name: "gateway",
        package: "gateway",
        port: 9080,
        env_prefix: "GATEWAY",
        database: None,
        // Its readiness needs every pool healthy; being live is enough to start serving.
        health_path: "/health/live",
        seeds_demo: false,
        gateway_pool: None,
        stage: Stage::Edge,
    },
];

/// Most replicas of one service: ports stay below the next hundred's neighbours.
pub(crate) const MAX_REPLICAS: u16 = 9;

/// Looks a service up by name.
pub(crate) fn service(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|service| service.name == name)
}

/// The gateway's URL on this machine.
pub(crate) fn gateway_url() -> String {
    let gateway = service("gateway").map_or(9080, |service| service.port);
    format!("http://127.0.0.1:{gateway}")
}

/// One `--replicas svc=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplicaCount {
    /// Which service.
    pub(crate) service: &'static Service,
    /// How many processes, `1..=MAX_REPLICAS`.
    pub(crate) count: u16,
}

impl FromStr for ReplicaCount {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (name, count) = raw
            .split_once('=')
            .ok_or_else(|| format!("{raw:?}: expected SERVICE=N, e.g. inventory=3"))?;
        let service = service(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = scalable().map(|service| service.name).collect();
            format!("unknown service {name:?}; one of {}", names.join(", "))
        })?;
        if service.gateway_pool.is_none() {
            return Err(format!(
                "{name}: only services behind the gateway can have replicas"
            ));
        }
        let count: u16 = count
            .trim()
            .parse()
            .map_err(|_| format!("{raw:?}: N must be a number from 1 to {MAX_REPLICAS}"))?;
        if !(1..=MAX_REPLICAS).contains(&count) {
            return Err(format!(
                "{raw:?}: N must be a number from 1 to {MAX_REPLICAS}"
            ));
        }
        Ok(Self { service, count })
    }
}

fn scalable() -> impl Iterator<Item = &'static Service> {
    SERVICES
        .iter()
        .filter(|service| service.gateway_pool.is_some())
}

/// One process to run: a replica of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    /// Its service.
    pub(crate) service: &'static Service,
    /// 1-based replica number.
    pub(crate) replica: u16,
    /// Where it listens.
    pub(crate) port: u16,
}

impl Instance {
    /// `inventory-2`: the log prefix and `<PREFIX>_INSTANCE_ID`.
    pub(crate) fn id(&self) -> String {
        format!("{}-{}", self.service.name, self.replica)
    }

    /// Its base URL.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What `up` polls to know it is serving.
    pub(crate) fn health_url(&self) -> String {
        format!("{}{}", self.url(), self.service.health_path)
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// Replica `replica` (1-based) of `service`: port `port + 100·(replica - 1)`.
pub(crate) fn instance(service: &'static Service, replica: u16) -> Instance {
    Instance {
        service,
        replica,
        port: service.port + 100 * (replica - 1),
    }
}

/// Every process, in start order: each service's replicas together. A later
/// `--replicas` for the same service wins.
pub(crate) fn plan(replicas: &[ReplicaCount]) -> Vec<Instance> {
    let counts: BTreeMap<&str, u16> = replicas
        .iter()
        .map(|replica| (replica.service.name, replica.count))
        .collect();
    SERVICES
        .iter()
        .flat_map(|service| {
            let count = counts.get(service.name).copied().unwrap_or(1);
            (1..=count).map(move |replica| instance(service, replica))
        })
        .collect()
}

/// `GATEWAY_<POOL>_URLS` for every pool: all replicas of the service behind it.
pub(crate) fn gateway_pool_urls(instances: &[Instance]) -> Vec<(String, String)> {
    SERVICES
        .iter()
        .filter_map(|service| {
            let pool = service.gateway_pool?;
            let urls: Vec<String> = instances
                .iter()
                .filter(|instance| instance.service == service)
                .map(Instance::url)
                .collect();
            (!urls.is_empty()).then(|| (format!("GATEWAY_{pool}_URLS"), urls.join(",")))
        })
        .collect()
}

/// `base` (any database on the server) pointed at `database`.
pub(crate) fn database_url(base: &Url, database: &str) -> String {
    let mut url = base.clone();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// The variables `up` sets for one process, given a lookup of the user's environment
/// (whose `LOG_FORMAT`, `<PREFIX>_DATABASE_URL` and `<PREFIX>_SEED_DEMO` win).
pub(crate) fn environment(
    instance: &Instance,
    all: &[Instance],
    database_base: &Url,
    user_env: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let service = instance.service;
    let prefix = service.env_prefix;
    let mut env = vec![
        (format!("{prefix}_HTTP_PORT"), instance.port.to_string()),
        (format!("{prefix}_INSTANCE_ID"), instance.id()),
    ];
    let mut set_default = |name: String, value: String| {
        if user_env(&name).is_none() {
            env.push((name, value));
        }
    };
    set_default("LOG_FORMAT".to_owned(), "pretty".to_owned());
    if let Some(database) = service.database {
        set_default(
            format!("{prefix}_DATABASE_URL"),
            database_url(database_base, database),
        );
    }
    // Only the first replica seeds, so replicas never race to fill the same empty table.
    if service.seeds_demo && instance.replica == 1 {
        set_default(format!("{prefix}_SEED_DEMO"), "true".to_owned());
    }
    if service.stage == Stage::Edge {
        env.extend(gateway_pool_urls(all));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(args: &[&str]) -> Vec<ReplicaCount> {
        args.iter().map(|arg| arg.parse().unwrap()).collect()
    }

    fn ids(instances: &[Instance]) -> Vec<(String, u16)> {
        instances
            .iter()
            .map(|instance| (instance.id(), instance.port))
            .collect()
    }

    #[test]
    fn without_replicas_every_service_runs_once_on_its_dev_port_in_start_order() {
        let plan = plan(&[]);
        assert_eq!(
            ids(&plan),
            [
                ("identity-1", 9876),
                ("inventory-1", 8082),
                ("account-1", 8081),
                ("payment-1", 8084),
                ("order-1", 8083),
                ("gateway-1", 9080),
            ]
            .map(|(id, port)| (id.to_owned(), port))
        );
        assert!(
            plan.windows(2)
                .all(|w| w[0].service.stage <= w[1].service.stage)
        );
    }

    #[test]
    fn replicas_take_consecutive_hundreds_and_distinct_instance_ids() {
        let plan = plan(&replicas(&["inventory=3"]));
        let inventory: Vec<(String, u16)> = ids(&plan)
            .into_iter()
            .filter(|(id, _)| id.starts_with("inventory"))
            .collect();
        assert_eq!(
            inventory,
            [
                ("inventory-1", 8082),
                ("inventory-2", 8182),
                ("inventory-3", 8282)
            ]
            .map(|(id, port)| (id.to_owned(), port))
        );
        let mut ports: Vec<u16> = plan.iter().map(|instance| instance.port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), plan.len(), "no two processes share a port");
    }

    #[test]
    fn the_last_replicas_flag_for_a_service_wins() {
        let plan = plan(&replicas(&["account=4", "account=2"]));
        assert_eq!(
            plan.iter().filter(|i| i.service.name == "account").count(),
            2
        );
    }

    #[test]
    fn replicas_flags_name_the_mistake() {
        for (raw, expected) in [
            ("billing=2", "unknown service \"billing\""),
            ("inventory", "expected SERVICE=N"),
            ("inventory=0", "from 1 to 9"),
            ("inventory=10", "from 1 to 9"),
            ("inventory=three", "from 1 to 9"),
            ("inventory=-1", "from 1 to 9"),
            ("gateway=2", "only services behind the gateway"),
        ] {
            let err = raw.parse::<ReplicaCount>().unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
        assert!(
            "billing=2"
                .parse::<ReplicaCount>()
                .unwrap_err()
                .contains("inventory"),
            "the error lists the valid names"
        );
    }

    #[test]
    fn the_gateway_gets_every_replica_of_every_pool() {
        let plan = plan(&replicas(&["inventory=3"]));
        let urls = gateway_pool_urls(&plan);
        assert_eq!(
            urls,
            [
                ("GATEWAY_IDENTITY_URLS", "http://127.0.0.1:9876"),
                (
                    "GATEWAY_INVENTORY_URLS",
                    "http://127.0.0.1:8082,http://127.0.0.1:8182,http://127.0.0.1:8282"
                ),
                ("GATEWAY_ACCOUNT_URLS", "http://127.0.0.1:8081"),
                ("GATEWAY_PAYMENT_URLS", "http://127.0.0.1:8084"),
                ("GATEWAY_ORDER_URLS", "http://127.0.0.1:8083"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn database_urls_keep_the_server_and_change_the_database() {
        let base =
            Url::parse("postgres://postgres:pw@db.local:6543/postgres?sslmode=disable").unwrap();
        assert_eq!(
            database_url(&base, "orders"),
            "postgres://postgres:pw@db.local:6543/orders?sslmode=disable"
        );
    }

    #[test]
    fn a_second_replica_has_its_own_port_and_id_and_does_not_seed() {
        let plan = plan(&replicas(&["inventory=2"]));
        let base = Url::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        let env = |id: &str| {
            let instance = plan.iter().find(|i| i.id() == id).unwrap();
            environment(instance, &plan, &base, |_| None)
        };
        let first = env("inventory-1");
        let second = env("inventory-2");
        let get = |env: &[(String, String)], name: &str| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        };
        assert_eq!(get(&first, "INVENTORY_SEED_DEMO").as_deref(), Some("true"));
        assert_eq!(get(&second, "INVENTORY_SEED_DEMO"), None);
        assert_eq!(get(&second, "INVENTORY_HTTP_PORT").as_deref(), Some("8182"));
        assert_eq!(
            get(&second, "INVENTORY_INSTANCE_ID").as_deref(),
            Some("inventory-2")
        );
        assert_eq!(
            get(&second, "INVENTORY_DATABASE_URL").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/inventory")
        );
        assert_eq!(get(&second, "LOG_FORMAT").as_deref(), Some("pretty"));
        assert!(get(&env("gateway-1"), "GATEWAY_INVENTORY_URLS").is_some());
    }

    #[test]
    fn the_users_own_settings_are_not_overridden() {
        let plan = plan(&[]);
        let base = Url::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        let order = plan.iter().find(|i| i.service.name == "order").unwrap();
        let env = environment(order, &plan, &base, |name| {
            ["LOG_FORMAT", "ORDER_SEED_DEMO"]
                .contains(&name)
                .then(|| "set".to_owned())
        });
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!names.contains(&"LOG_FORMAT"), "{names:?}");
        assert!(!names.contains(&"ORDER_SEED_DEMO"), "{names:?}");
        assert!(names.contains(&"ORDER_DATABASE_URL"), "{names:?}");
    }
}
