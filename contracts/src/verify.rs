//! Provider verification: replaying each pact naming a provider against the real
//! provider and reporting, per interaction, whether it kept the contract.
//!
//! - [`http`]: requests replayed against a running provider (any language), after its
//!   provider states were set up.
//! - [`message`]: the provider's real publishing code emits the event to RabbitMQ; the
//!   verifier consumes it from the broker and matches body and metadata.
//!
//! Outcomes are [`Outcome`]s, printed as a table ([`table`]) and recorded in the results
//! directory ([`crate::results`]) that `contracts can-i-deploy` reads.

pub mod http;
pub mod message;

use std::fmt::Write as _;

use futures::future::BoxFuture;

use crate::{matching::Mismatch, pact::ProviderState};

/// Sets up provider states: the named fixtures a pact's interactions ask for.
pub trait StateHandler: Send + Sync {
    /// Builds the data of `state` (for messages: also makes the provider publish).
    fn setup<'a>(&'a self, state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// No fixtures: states are assumed to hold (a provider started by hand with its data).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStates;

impl StateHandler for NoStates {
    fn setup<'a>(&'a self, _state: &'a ProviderState) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The verdict on one interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The consumer whose pact it is.
    pub consumer: String,
    /// The provider verified.
    pub provider: String,
    /// The interaction's description.
    pub interaction: String,
    /// `Synchronous/HTTP` or `Asynchronous/Messages`.
    pub kind: String,
    /// What differed; empty when it passed.
    pub mismatches: Vec<Mismatch>,
    /// Set when the interaction could not be tried at all (a state failed, no answer).
    pub error: Option<String>,
}

impl Outcome {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty() && self.error.is_none()
    }

    /// A readable account of a failure, naming consumer, interaction and fields.
    pub fn explain(&self) -> String {
        let mut text = format!(
            "{} → {}: {:?} failed",
            self.consumer, self.provider, self.interaction
        );
        if let Some(error) = &self.error {
            let _ = write!(text, "\n    error: {error}");
        }
        for mismatch in &self.mismatches {
            let _ = write!(text, "\n    {mismatch}");
        }
        text
    }
}

/// All outcomes of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One per interaction.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether everything passed (and there was something to verify).
    pub fn passed(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(Outcome::passed)
    }

    /// The failures explained, one paragraph each.
    pub fn failures(&self) -> String {
        self.outcomes
            .iter()
            .filter(|o| !o.passed())
            .map(Outcome::explain)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Adds another run's outcomes.
    pub fn extend(&mut self, other: Report) {
        self.outcomes.extend(other.outcomes);
    }
}

/// The per-interaction pass/fail table, then the failures explained.
pub fn table(report: &Report) -> String {
    let rows: Vec<[String; 4]> = report
        .outcomes
        .iter()
        .map(|o| {
            [
                if o.passed() { "PASS" } else { "FAIL" }.to_owned(),
                format!("{} → {}", o.consumer, o.provider),
                if o.kind.starts_with("Sync") {
                    "http"
                } else {
                    "message"
                }
                .to_owned(),
                o.interaction.clone(),
            ]
        })
        .collect();
    let header = [
        "RESULT".to_owned(),
        "PACT".to_owned(),
        "KIND".to_owned(),
        "INTERACTION".to_owned(),
    ];
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 4]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if i < 3 {
                text.push_str(&" ".repeat(width - cell.chars().count()));
            }
        }
        text.push('\n');
        text
    };
    let mut text = line(&header);
    for row in &rows {
        text.push_str(&line(row));
    }
    let failed = report.outcomes.iter().filter(|o| !o.passed()).count();
    let _ = writeln!(
        text,
        "{} interaction(s): {} passed, {failed} failed",
        report.outcomes.len(),
        report.outcomes.len() - failed
    );
    if failed > 0 {
        text.push('\n');
        text.push_str(&report.failures());
        text.push('\n');
    }
    text
}
