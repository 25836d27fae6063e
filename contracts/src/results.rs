//! Verification results: what `contracts can-i-deploy` decides on, our local stand-in for
//! a Pact Broker's matrix.
//!
//! Each provider verification records, per pact and kind (`http`, `messages`), the pact
//! file's SHA-256 and the verdict on each interaction. A result counts only while the
//! pact file is unchanged: editing a pact makes its old results stale.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{pact::Pact, verify::Report};

/// The default results directory: `contracts/.results`, or `IRONVESSEL_CONTRACT_RESULTS`.
pub fn default_dir() -> PathBuf {
    std::env::var_os("IRONVESSEL_CONTRACT_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".results"))
}

/// A pact's fingerprint: the SHA-256 of its canonical text.
pub fn fingerprint(pact: &Pact) -> String {
    let digest = Sha256::digest(pact.to_text().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One recorded verification of one kind of a pact's interactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// The pact's fingerprint when it was verified.
    pub pact_sha256: String,
    /// Interaction description → passed.
    pub interactions: BTreeMap<String, bool>,
}

fn kind_name(kind: &str) -> &'static str {
    if kind.starts_with("Sync") {
        "http"
    } else {
        "messages"
    }
}

/// Records the outcomes of `report` that concern `pact`.
pub fn record(dir: &Path, pact: &Pact, report: &Report) -> anyhow::Result<()> {
    let mut by_kind: BTreeMap<&str, Recorded> = BTreeMap::new();
    for outcome in report
        .outcomes
        .iter()
        .filter(|o| o.consumer == pact.consumer && o.provider == pact.provider)
    {
        by_kind
            .entry(kind_name(&outcome.kind))
            .or_insert_with(|| Recorded {
                pact_sha256: fingerprint(pact),
                interactions: BTreeMap::new(),
            })
            .interactions
            .insert(outcome.interaction.clone(), outcome.passed());
    }
    let folder = dir.join(format!("{}-{}", pact.consumer, pact.provider));
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    for (kind, recorded) in by_kind {
        let path = folder.join(format!("{kind}.json"));
        let tmp = folder.join(format!(".{kind}.json.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_string_pretty(&recorded)?)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The verdict of `can-i-deploy` on one pact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PactStatus {
    /// `<consumer>-<provider>`.
    pub pact: String,
    /// Interactions verified and passing with the current pact file.
    pub verified: usize,
    /// All interactions.
    pub total: usize,
    /// Why not, for each interaction that does not count.
    pub problems: Vec<String>,
}

/// Checks every interaction of `pact` against the recorded results.
pub fn status(dir: &Path, pact: &Pact) -> PactStatus {
    let name = format!("{}-{}", pact.consumer, pact.provider);
    let current = fingerprint(pact);
    let read = |kind: &str| -> Option<Recorded> {
        let text = std::fs::read_to_string(dir.join(&name).join(format!("{kind}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    };
    let http = read("http");
    let messages = read("messages");
    let mut status = PactStatus {
        pact: name,
        verified: 0,
        total: pact.interactions.len(),
        problems: Vec::new(),
    };
    for interaction in &pact.interactions {
        let recorded = if interaction.kind().starts_with("Sync") {
            &http
        } else {
            &messages
        };
        let description = interaction.description();
        match recorded {
            None => status
                .problems
                .push(format!("{description:?}: never verified")),
            Some(r) if r.pact_sha256 != current => status.problems.push(format!(
                "{description:?}: verified against an older version of the pact"
            )),
            Some(r) => match r.interactions.get(description) {
                Some(true) => status.verified += 1,
                Some(false) => status.problems.push(format!("{description:?}: failed")),
                None => status
                    .problems
                    .push(format!("{description:?}: never verified")),
            },
        }
    }
    status
}
