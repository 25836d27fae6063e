//! Load-test tests: short runs against a seeded shop started in process, with every
//! service real (Postgres, RabbitMQ and Redis from the test environment).

mod cache;
mod distributed;
mod run;
mod shop;

use std::{path::Path, process::Command, time::Duration};

use loadtest::{journeys::Weights, run::RunConfig, thresholds::Thresholds};
use seeder::{Plan, generate};

/// A small plan that has at least one manager, so every journey can run.
pub(crate) fn plan() -> Plan {
    (7..)
        .map(|seed| Plan::with_counts(seed, 60, 25, 150))
        .find(|plan| (0..plan.users).any(|i| generate::user(plan, i).manager))
        .expect("some seed gives a manager")
}

/// A few seconds of every journey against `gateway`.
pub(crate) fn short_run(gateway: &str, plan: &Plan, out: &Path, label: &str) -> RunConfig {
    RunConfig {
        host: gateway.to_owned(),
        plan: plan.clone(),
        user_range: 0..plan.users,
        password: generate::LOAD_TEST_PASSWORD.to_owned(),
        users: 6,
        hatch_rate: 6.0,
        run_time: Duration::from_secs(4),
        weights: Weights {
            shopper: 3,
            returning: 2,
            manager: 1,
            catalog: 0,
        },
        wait: None,
        poll_deadline: Duration::from_secs(30),
        out_dir: out.to_owned(),
        label: label.to_owned(),
        thresholds: Some(shipped_thresholds()),
        verbose: false,
    }
}

/// `loadtest/thresholds.toml`.
pub(crate) fn shipped_thresholds() -> Thresholds {
    Thresholds::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("thresholds.toml"))
        .expect("the shipped thresholds")
}

/// The `loadtest` binary with the seeded plan's arguments.
pub(crate) fn loadtest(plan: &Plan) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loadtest"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.args([
        "run".to_owned(),
        "--seed".to_owned(),
        plan.seed.to_string(),
        "--seeded-users".to_owned(),
        plan.users.to_string(),
        "--seeded-products".to_owned(),
        plan.products.to_string(),
        "--seeded-payments".to_owned(),
        plan.payments.to_string(),
    ]);
    command
}
