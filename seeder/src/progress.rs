//! Progress bars, one per table, with rows/s and ETA (drawn only on a terminal), and the
//! summary table printed when a run ends.

use std::{collections::BTreeMap, fmt, time::Duration};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{plan::Plan, target::Service};

/// The bars of a run.
#[derive(Debug)]
pub(crate) struct Bars {
    bars: BTreeMap<(Service, &'static str), ProgressBar>,
}

impl Bars {
    /// One bar per table, sized by the plan's estimate scaled to the work left.
    pub(crate) fn new(plan: &Plan, share: &BTreeMap<Service, f64>, visible: bool) -> Self {
        let multi = MultiProgress::with_draw_target(if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template(
            "{prefix:<26} {bar:30} {human_pos:>11}/{human_len:<11} {per_sec:>14} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let mut bars = BTreeMap::new();
        for estimate in plan.estimate() {
            let Some(service) = Service::ALL
                .into_iter()
                .find(|s| s.name() == estimate.service)
            else {
                continue;
            };
            let fraction = share.get(&service).copied().unwrap_or(0.0);
            let bar = multi.add(ProgressBar::new(
                (estimate.rows as f64 * fraction).round() as u64
            ));
            bar.set_style(style.clone());
            bar.set_prefix(format!("{}.{}", estimate.service, estimate.table));
            bars.insert((service, estimate.table), bar);
        }
        Self { bars }
    }

    /// Counts rows committed to a table.
    pub(crate) fn add(&self, service: Service, table: &'static str, rows: u64) {
        if let Some(bar) = self.bars.get(&(service, table)) {
            bar.inc(rows);
            if bar.position() > bar.length().unwrap_or(0) {
                bar.set_length(bar.position());
            }
        }
    }

    /// Ends every bar at its final count.
    pub(crate) fn finish(&self) {
        for bar in self.bars.values() {
            bar.set_length(bar.position());
            bar.finish();
        }
    }
}

/// Rows one run loaded into one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The database.
    pub service: Service,
    /// The table.
    pub table: &'static str,
    /// Rows this process loaded.
    pub rows: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The plan, offsets included.
    pub plan: Plan,
    /// Rows per table loaded by this process.
    pub tables: Vec<TableReport>,
    /// Whether the load is complete (indexes rebuilt, statistics fresh): false for a
    /// shard whose siblings are still loading.
    pub finished: bool,
    /// Wall-clock time, loading and rebuilding.
    pub elapsed: Duration,
    /// Of which rebuilding indexes, sequences and statistics.
    pub finalise: Duration,
}

impl RunReport {
    /// Rows this process loaded.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// End-to-end rows per second.
    pub fn rows_per_second(&self) -> f64 {
        self.rows() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for RunReport {
    /// The summary table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<10} {:<16} {:>12}", "database", "table", "rows")?;
        for table in &self.tables {
            writeln!(
                f,
                "{:<10} {:<16} {:>12}",
                table.service.name(),
                table.table,
                table.rows
            )?;
        }
        writeln!(f, "{:<10} {:<16} {:>12}", "total", "", self.rows())?;
        write!(
            f,
            "{:.1} s ({:.1} s rebuilding indexes and statistics), {:.0} rows/s; {}",
            self.elapsed.as_secs_f64(),
            self.finalise.as_secs_f64(),
            self.rows_per_second(),
            if self.finished {
                "complete"
            } else {
                "this shard is done; the last shard to finish rebuilds the indexes"
            }
        )
    }
}
