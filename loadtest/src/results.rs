//! What a run produced: per-transaction counts, errors, exact percentiles and the
//! serialized histogram, as JSON (mergeable) and Markdown.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use anyhow::{Context, Result, bail};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hdrhistogram::{
    Histogram,
    serialization::{Deserializer, Serializer, V2DeflateSerializer},
};
use serde::{Deserialize, Serialize};

use crate::{
    recorder::{self, Recorded, Second, Transaction},
    thresholds::Verdict,
};

/// One transaction's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransactionResult {
    /// Attempts, failed or not.
    pub count: u64,
    /// Failed attempts.
    pub errors: u64,
    /// Attempts per second of the measured time.
    pub throughput_per_s: f64,
    /// Mean latency.
    pub mean_ms: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile latency.
    pub p95_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Slowest attempt.
    pub max_ms: f64,
    /// The latency histogram in microseconds, HdrHistogram V2 + deflate, base64: what
    /// `loadtest merge` adds up.
    pub histogram: String,
}

/// A run's (or a merge's) results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    /// What ran (`shopper`, `worker 1/2`, `merged`, ...).
    pub label: String,
    /// Measured seconds (after the ramp-up); for a merge the longest worker's.
    pub duration_secs: f64,
    /// How many workers' results are in here.
    pub workers: u32,
    /// Every transaction by name.
    pub transactions: BTreeMap<String, TransactionResult>,
    /// Answers per replica (`x-instance`).
    #[serde(default)]
    pub instances: BTreeMap<String, u64>,
    /// Answers per `x-cache` value (`HIT`, `MISS`): whether a cached read came from the
    /// service's cache, Redis or its local tier.
    #[serde(default)]
    pub cache: BTreeMap<String, u64>,
    /// Attempts and failures per second from the start.
    #[serde(default)]
    pub timeline: Vec<Second>,
    /// The thresholds' verdict, once judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn encode(histogram: &Histogram<u64>) -> Result<String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|err| anyhow::anyhow!("could not serialize a histogram: {err:?}"))?;
    Ok(STANDARD.encode(bytes))
}

fn decode(text: &str) -> Result<Histogram<u64>> {
    let bytes = STANDARD
        .decode(text)
        .context("a histogram is not valid base64")?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|err| anyhow::anyhow!("a histogram does not deserialize: {err:?}"))
}

impl TransactionResult {
    fn from_histogram(histogram: &Histogram<u64>, errors: u64, duration_secs: f64) -> Result<Self> {
        let count = histogram.len();
        Ok(Self {
            count,
            errors,
            throughput_per_s: if duration_secs > 0.0 {
                count as f64 / duration_secs
            } else {
                0.0
            },
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
            histogram: encode(histogram)?,
        })
    }

    /// The latency histogram (microseconds).
    pub fn latencies_us(&self) -> Result<Histogram<u64>> {
        decode(&self.histogram)
    }

    /// Failed attempts over all attempts (0 for none).
    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.errors as f64 / self.count as f64
        }
    }
}

impl Results {
    /// Results of one run from what the recorder holds.
    pub fn from_recorded(label: &str, duration_secs: f64, recorded: &Recorded) -> Result<Self> {
        let mut results = Self::from_transactions(label, duration_secs, &recorded.transactions)?;
        results.instances = recorded.instances.clone();
        results.cache = recorded.cache.clone();
        results.timeline = recorded.timeline.clone();
        Ok(results)
    }

    fn from_transactions(
        label: &str,
        duration_secs: f64,
        recorded: &BTreeMap<String, Transaction>,
    ) -> Result<Self> {
        let transactions = recorded
            .iter()
            .map(|(name, t)| {
                Ok((
                    name.clone(),
                    TransactionResult::from_histogram(&t.latencies_us, t.errors, duration_secs)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            label: label.to_owned(),
            duration_secs,
            workers: 1,
            transactions,
            instances: BTreeMap::new(),
            cache: BTreeMap::new(),
            timeline: Vec::new(),
            verdict: None,
        })
    }

    /// Combines the results of workers that ran at the same time: histograms and counts
    /// add up, the duration is the longest worker's, so throughputs add up too.
    pub fn merge(label: &str, parts: &[Results]) -> Result<Self> {
        if parts.is_empty() {
            bail!("nothing to merge");
        }
        let duration_secs = parts.iter().map(|r| r.duration_secs).fold(0.0, f64::max);
        let mut merged: BTreeMap<String, Transaction> = BTreeMap::new();
        for part in parts {
            for (name, result) in &part.transactions {
                let entry = merged.entry(name.clone()).or_insert_with(|| Transaction {
                    latencies_us: recorder::new_histogram(),
                    errors: 0,
                });
                let histogram = result
                    .latencies_us()
                    .with_context(|| format!("{} in {}", name, part.label))?;
                entry
                    .latencies_us
                    .add(&histogram)
                    .map_err(|err| anyhow::anyhow!("{name}: histograms do not add: {err:?}"))?;
                entry.errors += result.errors;
            }
        }
        let mut results = Self::from_transactions(label, duration_secs, &merged)?;
        results.workers = parts.iter().map(|r| r.workers).sum();
        for part in parts {
            for (instance, count) in &part.instances {
                *results.instances.entry(instance.clone()).or_default() += count;
            }
            for (status, count) in &part.cache {
                *results.cache.entry(status.clone()).or_default() += count;
            }
            if results.timeline.len() < part.timeline.len() {
                results
                    .timeline
                    .resize(part.timeline.len(), Second::default());
            }
            for (total, second) in results.timeline.iter_mut().zip(&part.timeline) {
                total.count += second.count;
                total.errors += second.errors;
            }
        }
        Ok(results)
    }

    /// Attempts of every transaction.
    pub fn total_count(&self) -> u64 {
        self.transactions.values().map(|t| t.count).sum()
    }

    /// Failed attempts of every transaction.
    pub fn total_errors(&self) -> u64 {
        self.transactions.values().map(|t| t.errors).sum()
    }

    /// Failed over all attempts.
    pub fn error_rate(&self) -> f64 {
        let count = self.total_count();
        if count == 0 {
            0.0
        } else {
            self.total_errors() as f64 / count as f64
        }
    }

    /// Transactions per second over the measured time.
    pub fn throughput_per_s(&self) -> f64 {
        if self.duration_secs > 0.0 {
            self.total_count() as f64 / self.duration_secs
        } else {
            0.0
        }
    }

    /// Reads results written by [`Results::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not results JSON", path.display()))
    }

    /// Writes `<dir>/<stem>.json` and `<dir>/<stem>.md`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(dir.join(format!("{stem}.json")), json)?;
        std::fs::write(dir.join(format!("{stem}.md")), self.markdown())?;
        Ok(())
    }

    /// A Markdown summary: totals, the per-transaction table, the verdict.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Load test results: {}\n", self.label);
        let _ = writeln!(
            out,
            "{} worker(s), {:.1} s measured, {} transactions, {} errors ({:.3} %), {:.1} transactions/s\n",
            self.workers,
            self.duration_secs,
            self.total_count(),
            self.total_errors(),
            self.error_rate() * 100.0,
            self.throughput_per_s()
        );
        out.push_str(&self.table());
        if !self.instances.is_empty() {
            let total: u64 = self.instances.values().sum();
            out.push_str("\n| instance | answers | share |\n|---|---:|---:|\n");
            for (instance, count) in &self.instances {
                let _ = writeln!(
                    out,
                    "| {instance} | {count} | {:.1} % |",
                    *count as f64 * 100.0 / total.max(1) as f64
                );
            }
        }
        if let Some(verdict) = &self.verdict {
            out.push('\n');
            out.push_str(&verdict.markdown());
        }
        out
    }

    /// The per-transaction Markdown table (exact latencies, milliseconds).
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| transaction | count | errors | per s | mean ms | p50 ms | p95 ms | p99 ms | max ms |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (name, t) in &self.transactions {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                t.count,
                t.errors,
                t.throughput_per_s,
                t.mean_ms,
                t.p50_ms,
                t.p95_ms,
                t.p99_ms,
                t.max_ms
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::recorder::Recorder;

    fn results(label: &str, millis: &[u64], failed: u64, secs: f64) -> Results {
        let recorder = Recorder::new();
        for (i, ms) in millis.iter().enumerate() {
            recorder.record(
                "view product",
                Duration::from_millis(*ms),
                i as u64 >= failed,
            );
        }
        Results::from_recorded(label, secs, &recorder.snapshot()).unwrap()
    }

    #[test]
    fn results_survive_a_json_round_trip_with_their_histograms() {
        let original = results("w", &[1, 2, 3, 400], 1, 2.0);
        let text = serde_json::to_string(&original).unwrap();
        let back: Results = serde_json::from_str(&text).unwrap();
        assert_eq!(back, original);
        let histogram = back.transactions["view product"].latencies_us().unwrap();
        assert_eq!(histogram.len(), 4);
        assert!(histogram.max() >= 399_000);
    }

    #[test]
    fn merging_adds_histograms_counts_and_throughputs() {
        // Worker one is fast, worker two slow: the merged p99 must come from worker two.
        let fast = results("w1", &[10; 99], 0, 10.0);
        let slow = results("w2", &[1000; 99], 2, 9.0);
        let merged = Results::merge("merged", &[fast, slow]).unwrap();
        let view = &merged.transactions["view product"];
        assert_eq!(merged.workers, 2);
        assert_eq!(view.count, 198);
        assert_eq!(view.errors, 2);
        assert!((view.throughput_per_s - 19.8).abs() < 1e-9);
        assert!((9.9..=10.1).contains(&view.p50_ms), "{}", view.p50_ms);
        assert!((999.0..=1001.0).contains(&view.p99_ms), "{}", view.p99_ms);
        assert_eq!(merged.duration_secs, 10.0);
    }

    #[test]
    fn merging_nothing_is_an_error() {
        assert!(Results::merge("merged", &[]).is_err());
    }

    #[test]
    fn the_markdown_names_every_transaction_with_its_percentiles() {
        let md = results("shopper", &[5, 6, 7], 0, 1.0).markdown();
        assert!(md.contains("# Load test results: shopper"));
        assert!(md.contains("| view product | 3 | 0 |"), "{md}");
    }
}
