//! One load run: goose with our journeys against a gateway, then our results, the
//! thresholds' verdict and the reports under the output directory.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use goose::{config::GooseConfiguration, prelude::*};
use seeder::Plan;

use crate::{
    dataset::Dataset,
    journeys::{self, Context, Weights},
    recorder::Recorder,
    results::Results,
    thresholds::Thresholds,
};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The gateway's base URL.
    pub host: String,
    /// The seeded data's plan (seed and counts), to know users and products.
    pub plan: Plan,
    /// Seeded user indexes this worker uses (end exclusive).
    pub user_range: std::ops::Range<u64>,
    /// Seeded users' password.
    pub password: String,
    /// Virtual users.
    pub users: usize,
    /// Virtual users started per second.
    pub hatch_rate: f64,
    /// Seconds the run lasts once every user started.
    pub run_time: Duration,
    /// Scenario weights.
    pub weights: Weights,
    /// Think time between a user's steps, `None` for none.
    pub wait: Option<(Duration, Duration)>,
    /// How long a shopper polls for the cart, the payment and the order.
    pub poll_deadline: Duration,
    /// Where the reports go.
    pub out_dir: PathBuf,
    /// Report file stem: `<stem>.json`, `<stem>.md`, `<stem>-goose.html`.
    pub label: String,
    /// Thresholds to judge, if any.
    pub thresholds: Option<Thresholds>,
    /// Print goose's console tables.
    pub verbose: bool,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    /// Our results with the verdict.
    pub results: Results,
    /// Where they were written.
    pub json: PathBuf,
}

impl Outcome {
    /// Whether every threshold held (true without thresholds).
    pub fn passed(&self) -> bool {
        self.results.verdict.as_ref().is_none_or(|v| v.passed())
    }
}

/// Runs the load and writes `<out>/<label>.json`, `.md` and goose's `-goose.html`.
pub async fn run(config: &RunConfig) -> Result<Outcome> {
    let dataset = Dataset::from_plan(&config.plan, config.user_range.clone(), &config.password)?;
    let recorder = Recorder::new();
    let context = Arc::new(Context {
        dataset,
        recorder: recorder.clone(),
        poll_deadline: config.poll_deadline,
        order_pages: config.plan.payments.div_ceil(20).max(1),
    });
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("could not create {}", config.out_dir.display()))?;
    let html = config.out_dir.join(format!("{}-goose.html", config.label));
    let mut args: Vec<String> = vec![
        "--host".into(),
        config.host.clone(),
        "--users".into(),
        config.users.to_string(),
        "--increase-rate".into(),
        format!("{}", config.hatch_rate),
        "--run-time".into(),
        format!("{}s", config.run_time.as_secs().max(1)),
        // Our recorder keeps the ramp-up too (logins happen there), so goose does as well.
        "--no-reset-metrics".into(),
        // Workers run side by side; nothing controls a run from outside.
        "--no-telnet".into(),
        "--report-file".into(),
        html.display().to_string(),
    ];
    if !config.verbose {
        args.extend(["--quiet".into(), "--no-print-metrics".into()]);
    }
    let goose_config = GooseConfiguration::parse_args_default(&args)
        .map_err(|err| anyhow::anyhow!("goose configuration: {err}"))?;
    let mut attack = GooseAttack::initialize_with_config(goose_config)
        .map_err(|err| anyhow::anyhow!("goose: {err}"))?;
    for scenario in journeys::scenarios(&context, config.weights, config.wait)
        .map_err(|err| anyhow::anyhow!("goose scenario: {err}"))?
    {
        attack = attack.register_scenario(scenario);
    }
    let started = Instant::now();
    attack
        .execute()
        .await
        .map_err(|err| anyhow::anyhow!("goose run failed: {err}"))?;
    let duration = started.elapsed().as_secs_f64();
    let mut results = Results::from_recorded(&config.label, duration, &recorder.snapshot())?;
    if let Some(thresholds) = &config.thresholds {
        results.verdict = Some(thresholds.evaluate(&results));
    }
    results.write(&config.out_dir, &config.label)?;
    Ok(Outcome {
        json: config.out_dir.join(format!("{}.json", config.label)),
        results,
    })
}
