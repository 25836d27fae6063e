//! `cargo xtask up`: the whole shop on this machine with one command.
//!
//! It checks the infrastructure (starting it with Docker Compose when it is missing and
//! Docker can), creates the databases, builds the services once, starts identity, then
//! the services behind the gateway with their demo data, then the gateway, waits for
//! each to be ready, and prints how to use the shop. Ctrl-C or SIGTERM stops everything
//! gracefully; a service dying stops the rest and fails. `--check` runs the README's
//! walkthrough against the running shop instead of waiting, then stops it.

mod infrastructure;
pub(crate) mod services;
mod supervisor;
mod walkthrough;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use tokio::time::Instant;
use url::Url;

pub(crate) use self::services::ReplicaCount;
use self::{
    services::{Instance, SERVICES, Stage},
    supervisor::{Stop, Supervisor},
};

/// How long a process gets to answer its health check after it starts (migrations and
/// the realm import included).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `cargo xtask up`.
pub(crate) fn run(root: &Path, replicas: &[ReplicaCount], check: bool) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the tokio runtime")?;
    runtime.block_on(up(root, replicas, check))
}

async fn up(root: &Path, replicas: &[ReplicaCount], check: bool) -> Result<()> {
    let database = database_base()?;
    infrastructure::ensure(root, &database).await?;
    infrastructure::create_databases(&database, SERVICES).await?;
    let plan = services::plan(replicas);
    for instance in &plan {
        if infrastructure::port_in_use(instance.port).await {
            bail!(
                "port {} ({instance}) is already in use: is the shop (or something else) \
                 already running?",
                instance.port
            );
        }
    }
    let binaries = build(root)?;

    let width = plan.iter().map(|i| i.id().len()).max().unwrap_or(0);
    let mut supervisor = Supervisor::new(width)?;
    let outcome = run_stages(&mut supervisor, root, &binaries, &database, &plan, check).await;
    supervisor.shutdown().await;
    outcome
}

/// Starts the stages in order, each once the previous one is ready, then either runs the
/// walkthrough (`check`) or waits for a signal or an unexpected exit.
async fn run_stages(
    supervisor: &mut Supervisor,
    root: &Path,
    binaries: &Path,
    database: &Url,
    plan: &[Instance],
    check: bool,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("could not build an HTTP client")?;
    for stage in [Stage::Provider, Stage::Backend, Stage::Edge] {
        // First replicas, then the others: only the first seeds and generates keys,
        // so replicas never race each other to fill an empty database.
        for first in [true, false] {
            let batch: Vec<&Instance> = plan
                .iter()
                .filter(|i| i.service.stage == stage && (i.replica == 1) == first)
                .collect();
            if batch.is_empty() {
                continue;
            }
            for instance in &batch {
                let env = services::environment(instance, plan, database, |name| {
                    std::env::var(name).ok()
                });
                let row = SERVICES
                    .iter()
                    .position(|s| s == instance.service)
                    .unwrap_or(0);
                supervisor.spawn(
                    &instance.id(),
                    supervisor::colour(row),
                    &binaries.join(instance.service.package),
                    root,
                    &env,
                )?;
            }
            let started = Instant::now();
            if let Err(stop) = supervisor.guard(wait_ready(&client, &batch)).await {
                return finish(stop, check);
            }
            let names: Vec<String> = batch.iter().map(|i| i.id()).collect();
            supervisor.say(&format!(
                "ready in {:.1}s: {}",
                started.elapsed().as_secs_f64(),
                names.join(", ")
            ));
        }
    }
    let gateway = services::gateway_url();
    supervisor.say(&banner(&gateway));
    if check {
        let walkthrough = async { Ok(walkthrough::run(&gateway).await) };
        return match supervisor.guard(walkthrough).await {
            Ok(steps) => {
                for step in &steps {
                    supervisor.say(&step.line());
                }
                if walkthrough::passed(&steps) {
                    supervisor.say("check: PASS");
                    Ok(())
                } else {
                    bail!("check: FAIL (see the FAIL lines above)")
                }
            }
            Err(stop) => finish(stop, check),
        };
    }
    supervisor.say("press Ctrl-C to stop");
    let stop = supervisor.next_stop().await;
    if let Stop::Signal(name) = &stop {
        supervisor.say(&format!("{name} received"));
    }
    stop.into_result()
}

/// The result of `up` ending with `stop`: a signal is a normal end, except that it
/// leaves `--check` without a verdict.
fn finish(stop: Stop, check: bool) -> Result<()> {
    match stop {
        Stop::Signal(name) if check => bail!("{name} received before the check finished"),
        stop => stop.into_result(),
    }
}

/// Polls every instance's health URL until each answers 200, within [`READY_TIMEOUT`].
async fn wait_ready(client: &reqwest::Client, batch: &[&Instance]) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    for instance in batch {
        let url = instance.health_url();
        loop {
            let last = match client.get(&url).send().await {
                Ok(response) if response.status().is_success() => break,
                Ok(response) => format!("it answered {}", response.status()),
                Err(error) => format!("{error}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{instance} was not ready within {}s: GET {url}: {last}",
                    READY_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// What to print once the shop is up.
fn banner(gateway: &str) -> String {
    let mut text = format!(
        "the shop is up: {gateway}\n\ndemo logins (client_id {}):\n",
        walkthrough::CLIENT_ID
    );
    for (username, password, role) in walkthrough::DEMO_USERS {
        text.push_str(&format!("  {username} / {password}  ({role})\n"));
    }
    text.push_str("\ntry it:\n");
    text.push_str(&walkthrough::curl_example(gateway));
    text
}

/// `IRONVESSEL_DATABASE_URL`, or the local default.
fn database_base() -> Result<Url> {
    let raw = std::env::var("IRONVESSEL_DATABASE_URL")
        .unwrap_or_else(|_| infrastructure::DEFAULT_DATABASE_URL.to_owned());
    Url::parse(&raw).context("IRONVESSEL_DATABASE_URL is not a URL")
}

/// Builds every service once; returns the directory holding their binaries.
fn build(root: &Path) -> Result<PathBuf> {
    let mut args = vec!["build"];
    for service in SERVICES {
        args.extend(["-p", service.package]);
    }
    crate::cargo(root, &args)?;
    let directory = target_directory(root)?.join("debug");
    let missing: Vec<String> = SERVICES
        .iter()
        .filter(|service| !directory.join(service.package).is_file())
        .map(|service| {
            format!(
                "services/{} (no {})",
                service.name,
                directory.join(service.package).display()
            )
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "the build produced no binary for {}: does each have a main.rs yet?",
            missing.join(", ")
        );
    }
    Ok(directory)
}

/// Cargo's target directory (it honours `CARGO_TARGET_DIR` and config).
pub(crate) fn target_directory(root: &Path) -> Result<PathBuf> {
    let output = crate::cargo_command(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("could not run `cargo metadata`")?;
    if !output.status.success() {
        bail!("`cargo metadata` failed with {}", output.status);
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed no JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` names no target_directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_the_gateway_the_logins_and_a_curl_example() {
        let banner = banner("http://127.0.0.1:9080");
        assert!(banner.contains("the shop is up: http://127.0.0.1:9080"));
        assert!(banner.contains("client_id ironvessel-web"));
        assert!(banner.contains("tommy / garrison_1918  (customer)"));
        assert!(banner.contains("lorne / sioux_falls  (customer)"));
        assert!(banner.contains("vader / i_hate_sand  (manager)"));
        assert!(banner.contains("Authorization: Bearer $TOKEN"));
    }
}
