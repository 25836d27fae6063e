//! Exact latencies per transaction, recorded by the journeys themselves.
//!
//! goose keeps its own metrics in buckets; the SLO gates need exact percentiles and
//! histograms that merge across workers, so every journey step reports here too.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

/// Slowest latency a histogram holds; slower ones are clamped to it (and still counted).
pub const MAX_LATENCY: Duration = Duration::from_secs(120);

/// Significant decimal digits kept: 3 means every value within 0.1 %.
const SIGFIG: u8 = 3;

/// Latencies and outcomes of one transaction.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Latencies in microseconds, of successes and failures alike.
    pub latencies_us: Histogram<u64>,
    /// How many failed (unexpected status, transport error, a poll that timed out).
    pub errors: u64,
}

impl Transaction {
    /// An empty record.
    pub fn new() -> Self {
        Self {
            latencies_us: new_histogram(),
            errors: 0,
        }
    }

    /// All attempts, failed or not.
    pub fn count(&self) -> u64 {
        self.latencies_us.len()
    }
}

impl Default for Transaction {
    fn default() -> Self {
        Self::new()
    }
}

/// An empty latency histogram in microseconds, 1 µs to [`MAX_LATENCY`].
pub fn new_histogram() -> Histogram<u64> {
    let max = u64::try_from(MAX_LATENCY.as_micros()).unwrap_or(u64::MAX);
    // Start-up only, with constant bounds that are valid: cannot fail.
    Histogram::new_with_bounds(1, max, SIGFIG).expect("valid histogram bounds")
}

/// One second of a run: attempts and failures that ended in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Second {
    /// Attempts.
    pub count: u64,
    /// Failures.
    pub errors: u64,
}

/// Everything recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Per transaction name.
    pub transactions: BTreeMap<String, Transaction>,
    /// Answers per `x-instance` (which replica served them).
    pub instances: BTreeMap<String, u64>,
    /// Answers per `x-cache` (`HIT`, `MISS`), for the reads that carry it.
    pub cache: BTreeMap<String, u64>,
    /// Attempts and failures per second since the recorder was made.
    pub timeline: Vec<Second>,
}

#[derive(Debug)]
struct Inner {
    started: Instant,
    recorded: Recorded,
}

/// Where the journeys record; cheap to clone, shared by every virtual user.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder; its timeline starts now.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                started: Instant::now(),
                recorded: Recorded::default(),
            })),
        }
    }

    /// Records one attempt of `name` that took `elapsed`.
    pub fn record(&self, name: &str, elapsed: Duration, ok: bool) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(
                1,
                u64::try_from(MAX_LATENCY.as_micros()).unwrap_or(u64::MAX),
            );
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let second = usize::try_from(inner.started.elapsed().as_secs()).unwrap_or(usize::MAX);
        let recorded = &mut inner.recorded;
        let transaction = recorded.transactions.entry(name.to_owned()).or_default();
        transaction.latencies_us.saturating_record(micros);
        if !ok {
            transaction.errors += 1;
        }
        if second < 24 * 60 * 60 {
            if recorded.timeline.len() <= second {
                recorded.timeline.resize(second + 1, Second::default());
            }
            recorded.timeline[second].count += 1;
            if !ok {
                recorded.timeline[second].errors += 1;
            }
        }
    }

    /// Counts one answer from replica `instance`.
    pub fn record_instance(&self, instance: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *inner
            .recorded
            .instances
            .entry(instance.to_owned())
            .or_default() += 1;
    }

    /// Counts one answer that said `x-cache: <status>`.
    pub fn record_cache(&self, status: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *inner.recorded.cache.entry(status.to_owned()).or_default() += 1;
    }

    /// A copy of everything recorded so far.
    pub fn snapshot(&self) -> Recorded {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recorded
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_exact_to_a_tenth_of_a_percent() {
        let recorder = Recorder::new();
        for ms in 1..=1000 {
            recorder.record("view product", Duration::from_millis(ms), ms % 100 != 0);
        }
        let snapshot = recorder.snapshot().transactions;
        let view = &snapshot["view product"];
        assert_eq!(view.count(), 1000);
        assert_eq!(view.errors, 10);
        let p99 = view.latencies_us.value_at_quantile(0.99);
        assert!((989_000..=991_000).contains(&p99), "{p99}");
        let p50 = view.latencies_us.value_at_quantile(0.50);
        assert!((499_500..=500_500).contains(&p50), "{p50}");
    }

    #[test]
    fn latencies_beyond_the_bound_are_clamped_not_lost() {
        let recorder = Recorder::new();
        recorder.record("slow", Duration::from_secs(3600), false);
        recorder.record("slow", Duration::ZERO, true);
        recorder.record_instance("inventory-1");
        let recorded = recorder.snapshot();
        let snapshot = recorded.transactions;
        assert_eq!(snapshot["slow"].count(), 2);
        assert_eq!(recorded.instances["inventory-1"], 1);
        assert_eq!(recorded.timeline.iter().map(|s| s.errors).sum::<u64>(), 1);
        assert!(snapshot["slow"].latencies_us.max() >= 119_000_000);
    }
}
