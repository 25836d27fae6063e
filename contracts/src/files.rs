//! Where contract artefacts live and how drift is caught.
//!
//! Pact files (`contracts/pacts/`), OpenAPI snapshots (`contracts/openapi/`) and event
//! JSON Schemas (`contracts/events/`) are committed. The tests regenerate each one and
//! [`check_snapshot`] compares it with the committed file: a difference fails with a
//! diff and the command that accepts it (`IRONVESSEL_UPDATE_PACTS=1`), so a change to a
//! contract is always a reviewed change to a file.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::pact::Pact;

/// The environment variable that makes the tests write artefacts instead of comparing.
pub const UPDATE_VAR: &str = "IRONVESSEL_UPDATE_PACTS";

/// `contracts/<name>` in this repository.
pub fn artefact_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// `contracts/pacts`.
pub fn pacts_dir() -> PathBuf {
    artefact_dir("pacts")
}

/// Every pact in `dir`, sorted by file name.
pub fn load_all(dir: &Path) -> anyhow::Result<Vec<Pact>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|path| Pact::load(path)).collect()
}

/// The pacts in `dir` naming `service` as provider.
pub fn for_provider(dir: &Path, service: &str) -> anyhow::Result<Vec<Pact>> {
    Ok(load_all(dir)?
        .into_iter()
        .filter(|pact| pact.provider == service)
        .collect())
}

fn updating() -> bool {
    std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1")
}

/// Compares `text` with the committed `dir/name`; with `IRONVESSEL_UPDATE_PACTS=1`
/// writes it instead. A drifted text is also written to a temporary directory so the
/// difference can be inspected.
pub fn check_snapshot(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let committed_path = dir.join(name);
    if updating() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        return std::fs::write(&committed_path, text).map_err(|e| e.to_string());
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed == text {
        return Ok(());
    }
    // Only a drifted file is written out, for inspection; a clean run leaves nothing.
    let scratch = std::env::temp_dir().join(format!("ironvessel-contracts-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let regenerated = scratch.join(name);
    let _ = std::fs::write(&regenerated, text);
    Err(format!(
        "{} drifted from what the tests generate (regenerated copy: {}).\n\
         If the change is intended, accept it with:\n    \
         {UPDATE_VAR}=1 cargo nextest run -p contracts\n\
         and commit the file. Difference (- committed, + regenerated):\n{}",
        committed_path.display(),
        regenerated.display(),
        diff(&committed, text)
    ))
}

/// Writes or checks a pact file in `contracts/pacts`.
pub fn check_pact(pact: &Pact) -> Result<(), String> {
    check_snapshot(&pacts_dir(), &pact.file_name(), &pact.to_text())
}

/// A line diff (longest common subsequence), changed lines with two lines of context.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let near = |k: usize| {
        ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near(k) {
            out.push_str(&format!("{op} {line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_shows_changed_lines_with_context() {
        let d = diff("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nD\ne\nf\ng\n");
        assert!(d.contains("- d\n+ D\n"), "{d}");
        assert!(d.contains("  c\n"), "{d}");
    }
}
