//! SLO gates: a TOML file of limits judged on a run's exact latencies.
//!
//! ```toml
//! max_error_rate = 0.01          # failed / all transactions, whole run
//! min_throughput_per_s = 5.0     # transactions per second, whole run
//!
//! [transactions."view product"]
//! p50_ms = 50.0
//! p95_ms = 200.0
//! p99_ms = 500.0
//! max_error_rate = 0.0           # optional, this transaction only
//! ```
//!
//! A transaction named here that the run never made fails its rules as "no samples",
//! so a renamed step cannot pass silently.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::results::Results;

/// Limits for one transaction.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransactionLimits {
    /// Highest median, milliseconds.
    pub p50_ms: Option<f64>,
    /// Highest 95th percentile, milliseconds.
    pub p95_ms: Option<f64>,
    /// Highest 99th percentile, milliseconds.
    pub p99_ms: Option<f64>,
    /// Highest failed / all for this transaction.
    pub max_error_rate: Option<f64>,
}

/// The thresholds file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Highest failed / all over every transaction.
    pub max_error_rate: Option<f64>,
    /// Lowest transactions per second over the measured time.
    pub min_throughput_per_s: Option<f64>,
    /// Per-transaction limits by name.
    #[serde(default)]
    pub transactions: BTreeMap<String, TransactionLimits>,
}

/// One judged rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// What was checked, e.g. `view product: p95 <= 200 ms`.
    pub rule: String,
    /// What the run showed.
    pub observed: String,
    /// Whether the rule held.
    pub passed: bool,
}

/// Every rule's outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    /// Whole-run rules first, then each transaction's, by transaction name.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// Whether every rule held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The rules that did not hold.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// A Markdown section.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## Thresholds: {}\n\n| rule | observed | |\n|---|---|---|\n",
            if self.passed() { "PASS" } else { "FAIL" }
        );
        for check in &self.checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                check.rule,
                check.observed,
                if check.passed { "pass" } else { "**FAIL**" }
            );
        }
        out
    }
}

impl Thresholds {
    /// Reads a thresholds file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read thresholds {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parses thresholds TOML.
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).context("invalid thresholds")
    }

    /// Judges `results`.
    pub fn evaluate(&self, results: &Results) -> Verdict {
        let mut checks = Vec::new();
        if let Some(limit) = self.max_error_rate {
            let observed = results.error_rate();
            checks.push(Check {
                rule: format!("error rate <= {}", percent(limit)),
                observed: format!(
                    "{} ({} of {})",
                    percent(observed),
                    results.total_errors(),
                    results.total_count()
                ),
                passed: observed <= limit,
            });
        }
        if let Some(limit) = self.min_throughput_per_s {
            let observed = results.throughput_per_s();
            checks.push(Check {
                rule: format!("throughput >= {limit} /s"),
                observed: format!("{observed:.2} /s"),
                passed: observed >= limit,
            });
        }
        for (name, limits) in &self.transactions {
            let result = results.transactions.get(name).filter(|t| t.count > 0);
            let latency_rules = [
                ("p50", limits.p50_ms, result.map(|t| t.p50_ms)),
                ("p95", limits.p95_ms, result.map(|t| t.p95_ms)),
                ("p99", limits.p99_ms, result.map(|t| t.p99_ms)),
            ];
            for (label, limit, observed) in latency_rules {
                let Some(limit) = limit else { continue };
                checks.push(Check {
                    rule: format!("{name}: {label} <= {limit} ms"),
                    observed: observed
                        .map_or_else(|| "no samples".to_owned(), |v| format!("{v:.2} ms")),
                    passed: observed.is_some_and(|v| v <= limit),
                });
            }
            if let Some(limit) = limits.max_error_rate {
                checks.push(Check {
                    rule: format!("{name}: error rate <= {}", percent(limit)),
                    observed: result.map_or_else(
                        || "no samples".to_owned(),
                        |t| format!("{} ({} of {})", percent(t.error_rate()), t.errors, t.count),
                    ),
                    passed: result.is_some_and(|t| t.error_rate() <= limit),
                });
            }
        }
        Verdict { checks }
    }
}

fn percent(rate: f64) -> String {
    format!("{:.3} %", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::recorder::Recorder;

    fn run() -> Results {
        let recorder = Recorder::new();
        for ms in 1..=100 {
            recorder.record("view product", Duration::from_millis(ms), ms != 100);
        }
        Results::from_recorded("t", 10.0, &recorder.snapshot()).unwrap()
    }

    #[test]
    fn limits_the_run_meets_pass() {
        let thresholds = Thresholds::parse(
            r#"
            max_error_rate = 0.02
            min_throughput_per_s = 9.0
            [transactions."view product"]
            p50_ms = 60
            p95_ms = 96
            p99_ms = 100
            max_error_rate = 0.01
            "#,
        )
        .unwrap();
        let verdict = thresholds.evaluate(&run());
        assert!(verdict.passed(), "{verdict:#?}");
        assert_eq!(verdict.checks.len(), 6);
    }

    #[test]
    fn each_limit_the_run_misses_fails_by_name() {
        let thresholds = Thresholds::parse(
            r#"
            max_error_rate = 0.001
            min_throughput_per_s = 11
            [transactions."view product"]
            p99_ms = 50
            [transactions."check out"]
            p50_ms = 1000
            "#,
        )
        .unwrap();
        let verdict = thresholds.evaluate(&run());
        let failed: Vec<&str> = verdict.failures().map(|c| c.rule.as_str()).collect();
        assert_eq!(
            failed,
            [
                "error rate <= 0.100 %",
                "throughput >= 11 /s",
                "check out: p50 <= 1000 ms",
                "view product: p99 <= 50 ms",
            ]
        );
        assert!(verdict.checks[2].observed.contains("no samples"));
        assert!(verdict.markdown().contains("FAIL"));
    }

    #[test]
    fn a_misspelt_rule_is_refused() {
        let err = Thresholds::parse("[transactions.x]\np95 = 3\n").unwrap_err();
        assert!(format!("{err:#}").contains("p95"), "{err:#}");
    }

    #[test]
    fn the_shipped_thresholds_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("thresholds.toml");
        let thresholds = Thresholds::read(&path).unwrap();
        assert!(thresholds.transactions.contains_key("view product"));
    }
}
