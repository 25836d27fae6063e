//! The `contracts` command: verify a running provider (in any language) against the
//! pacts, list them, decide whether a service can be deployed, publish to a Pact Broker.
//!
//! ```text
//! contracts list
//! contracts verify --provider payment --base-url http://127.0.0.1:8084 --token "$TOKEN"
//! contracts can-i-deploy --service payment
//! contracts publish --broker https://broker.example.com --version "$(git rev-parse HEAD)"
//! ```

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use contracts::{
    broker, files,
    pact::{Interaction, Pact, ProviderState},
    results,
    verify::{NoStates, Report, StateHandler, http::HttpVerifier, message::BrokerVerifier, table},
};
use futures::future::BoxFuture;

#[derive(Debug, Parser)]
#[command(
    name = "contracts",
    about = "Ironvessel's consumer-driven contracts (Pact V4)"
)]
struct Cli {
    /// The pact files.
    #[arg(long, global = true, env = "CONTRACTS_PACTS_DIR")]
    pacts: Option<PathBuf>,
    /// Where verification results are recorded (for can-i-deploy).
    #[arg(long, global = true, env = "IRONVESSEL_CONTRACT_RESULTS")]
    results: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every consumer/provider pair and its interactions.
    List,
    /// Verifies a running provider against every pact naming it; prints a pass/fail
    /// table and exits non-zero on any failure.
    Verify {
        /// The provider's name as the pacts spell it (`payment`).
        #[arg(long)]
        provider: String,
        /// Where it listens, e.g. `http://127.0.0.1:8084`.
        #[arg(long)]
        base_url: String,
        /// A bearer token the provider accepts, replacing the pacts' example tokens.
        #[arg(long, env = "CONTRACTS_TOKEN")]
        token: Option<String>,
        /// `Name: value`, replacing that header of every request that has it; repeatable.
        #[arg(long = "header")]
        headers: Vec<String>,
        /// Pact's state-change protocol: POSTed `{"state", "params", "action": "setup"}`
        /// before each interaction. Without it, states are assumed to hold.
        #[arg(long)]
        state_change_url: Option<String>,
        /// Verify message interactions too, over this broker (needs --state-change-url,
        /// whose handler makes the provider publish).
        #[arg(long)]
        amqp_url: Option<String>,
        /// The provider's exchange prefix.
        #[arg(long, default_value = "")]
        amqp_prefix: String,
        /// Do not record the results.
        #[arg(long)]
        no_record: bool,
    },
    /// Exits non-zero unless every interaction of every pact involving the service
    /// verified against the current pact files.
    CanIDeploy {
        /// The service (as consumer or provider).
        #[arg(long)]
        service: String,
    },
    /// Publishes every pact to a Pact Broker.
    Publish {
        /// The broker's base URL (`PACT_BROKER_BASE_URL`).
        #[arg(long, env = "PACT_BROKER_BASE_URL")]
        broker: String,
        /// The consumer version (e.g. the commit).
        #[arg(long, env = "GIT_COMMIT", default_value = "local")]
        version: String,
    },
}

/// Pact's provider-state protocol over HTTP.
#[derive(Debug)]
struct StateChangeUrl {
    client: reqwest::Client,
    url: String,
}

impl StateHandler for StateChangeUrl {
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let response = self
                .client
                .post(&self.url)
                .json(&serde_json::json!({
                    "state": state.name, "params": state.params, "action": "setup",
                }))
                .send()
                .await
                .with_context(|| format!("POST {}", self.url))?;
            anyhow::ensure!(
                response.status().is_success(),
                "the state-change URL answered {}",
                response.status()
            );
            Ok(())
        })
    }
}

fn list(pacts: &[Pact]) {
    for pact in pacts {
        println!(
            "{} → {} ({}, {} interaction(s))",
            pact.consumer,
            pact.provider,
            pact.file_name(),
            pact.interactions.len()
        );
        let mut interactions: Vec<&Interaction> = pact.interactions.iter().collect();
        interactions.sort_by_key(|i| i.description().to_owned());
        for interaction in interactions {
            let kind = if interaction.kind().starts_with("Sync") {
                "http"
            } else {
                "message"
            };
            let states: Vec<&str> = interaction
                .provider_states()
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            let given = if states.is_empty() {
                String::new()
            } else {
                format!("  [given: {}]", states.join("; "))
            };
            println!("  {kind:<7} {}{given}", interaction.description());
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let pacts_dir = cli.pacts.unwrap_or_else(files::pacts_dir);
    let results_dir = cli.results.unwrap_or_else(results::default_dir);
    let pacts = files::load_all(&pacts_dir)?;
    match cli.command {
        Command::List => {
            list(&pacts);
            Ok(true)
        }
        Command::Verify {
            provider,
            base_url,
            token,
            headers,
            state_change_url,
            amqp_url,
            amqp_prefix,
            no_record,
        } => {
            let mut verifier = HttpVerifier::new(&base_url);
            if let Some(token) = token {
                verifier = verifier.replace_header("authorization", &format!("Bearer {token}"));
            }
            for header in headers {
                let (name, value) = header
                    .split_once(':')
                    .with_context(|| format!("--header {header:?} is not `Name: value`"))?;
                verifier = verifier.replace_header(name.trim(), value.trim());
            }
            let states: Box<dyn StateHandler> = match state_change_url.clone() {
                Some(url) => Box::new(StateChangeUrl {
                    client: reqwest::Client::new(),
                    url,
                }),
                None => Box::new(NoStates),
            };
            let mine: Vec<&Pact> = pacts.iter().filter(|p| p.provider == provider).collect();
            anyhow::ensure!(
                !mine.is_empty(),
                "no pact in {} names {provider:?} as provider",
                pacts_dir.display()
            );
            let mut report = Report::default();
            for pact in mine {
                let mut one = verifier.verify(pact, states.as_ref()).await;
                if let Some(amqp_url) = &amqp_url {
                    anyhow::ensure!(
                        state_change_url.is_some(),
                        "--amqp-url needs --state-change-url: the provider publishes when its state is set up"
                    );
                    let broker = BrokerVerifier {
                        amqp_url: amqp_url.clone(),
                        prefix: amqp_prefix.clone(),
                        deadline: Duration::from_secs(30),
                    };
                    one.extend(broker.verify(pact, states.as_ref()).await);
                }
                if !no_record {
                    results::record(&results_dir, pact, &one)?;
                }
                report.extend(one);
            }
            print!("{}", table(&report));
            Ok(report.passed())
        }
        Command::CanIDeploy { service } => {
            let involved: Vec<&Pact> = pacts
                .iter()
                .filter(|p| p.consumer == service || p.provider == service)
                .collect();
            anyhow::ensure!(
                !involved.is_empty(),
                "no pact involves {service:?}: nothing to decide on"
            );
            let mut ok = true;
            for pact in involved {
                let status = results::status(&results_dir, pact);
                let verdict = if status.problems.is_empty() {
                    "OK"
                } else {
                    ok = false;
                    "NOT VERIFIED"
                };
                println!(
                    "{verdict:<12} {} ({}/{} interactions verified)",
                    status.pact, status.verified, status.total
                );
                for problem in &status.problems {
                    println!("             {problem}");
                }
            }
            println!(
                "{}",
                if ok {
                    format!("{service} can be deployed")
                } else {
                    format!("{service} cannot be deployed")
                }
            );
            Ok(ok)
        }
        Command::Publish { broker, version } => {
            let client = reqwest::Client::new();
            let credentials = broker::Credentials::from_env();
            for pact in &pacts {
                let url = broker::publish(&client, &broker, pact, &version, &credentials).await?;
                println!("published {} to {url}", pact.file_name());
            }
            Ok(true)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
