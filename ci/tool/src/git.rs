//! A thin wrapper over the `git` command line.
//!
//! The pipeline shells out to the `git` CLI rather than linking libgit2: it is what every
//! CI runner has, it honours the runner's credential helpers and configuration, and its
//! push and rebase behaviour is exactly what a person would see by hand.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use anyhow::{Context, Result, bail};

/// `git` run in one working directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

impl Git {
    /// Runs git in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `git args` and returns its trimmed stdout; fails with git's stderr.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let output = self.output(args)?;
        if !output.status.success() {
            bail!(
                "`git {}` failed with {}: {}",
                redact(&args.join(" ")),
                output.status,
                redact(String::from_utf8_lossy(&output.stderr).trim())
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Runs `git args` and returns whatever happened, success or not.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            // Never wait for a password prompt in CI.
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .with_context(|| format!("could not run git in {}", self.dir.display()))
    }

    /// Whether `git args` succeeds.
    pub fn succeeds(&self, args: &[&str]) -> Result<bool> {
        Ok(self.output(args)?.status.success())
    }

    /// The commit HEAD points at.
    pub fn head(&self) -> Result<String> {
        self.run(&["rev-parse", "HEAD"])
    }

    /// The repository's top-level directory.
    pub fn toplevel(&self) -> Result<PathBuf> {
        Ok(PathBuf::from(self.run(&["rev-parse", "--show-toplevel"])?))
    }

    /// Whether a rebase is stopped half-way in this clone.
    pub fn rebase_in_progress(&self) -> Result<bool> {
        for dir in ["rebase-merge", "rebase-apply"] {
            let path = self.run(&["rev-parse", "--git-path", dir])?;
            if self.dir.join(path).exists() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Tracked files that differ from HEAD, plus untracked ones (porcelain status lines).
    pub fn status(&self) -> Result<String> {
        self.run(&["status", "--porcelain"])
    }
}

/// Hides credentials in URLs (`https://user:token@host` → `https://***@host`), so that a
/// token-bearing remote URL never reaches a CI log.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let (before, after) = rest.split_at(scheme + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&after[at..end]);
            }
            None => out.push_str(&after[..end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_hidden() {
        assert_eq!(
            redact("push https://x-access-token:ghs_secret@github.com/o/r.git main"),
            "push https://***@github.com/o/r.git main"
        );
        assert_eq!(
            redact("fetch https://github.com/o/r.git"),
            "fetch https://github.com/o/r.git"
        );
        assert_eq!(redact("/tmp/remote.git"), "/tmp/remote.git");
    }
}
