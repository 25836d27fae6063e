//! Committing image bumps and pushing them to the GitOps branch Argo CD watches.
//!
//! Several pipelines may bump the same overlay at once (two merges in a row, a release
//! and a promotion). Each commits only the pins files it changed, pushes, and when the
//! branch moved meanwhile fetches it, rebases its one commit on top and tries again. If
//! the rebase conflicts, the bump is re-applied to the fetched files instead (a bump is
//! "set this image to this digest", which never conflicts with another image's). A push
//! that still fails leaves the clone as it found it: no commit of ours, no changes, no
//! rebase in progress.

use std::{
    collections::BTreeSet,
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Result, bail};

use crate::{
    git::{Git, redact},
    pins::{Digest, PinsFile},
};

/// What `push` is asked to do (also the `ci gitops push` arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct PushOptions {
    /// The remote to push to: a name, URL or path (a token in it is never printed).
    #[arg(long)]
    pub repo: String,
    /// The branch Argo CD tracks.
    #[arg(long)]
    pub branch: String,
    /// The clone holding the bumps.
    #[arg(long, default_value = ".")]
    pub workdir: PathBuf,
    /// Only pins files under these paths (relative to the clone) are committed.
    #[arg(long = "path", default_value = "k8s/overlays")]
    pub paths: Vec<PathBuf>,
    /// Pushes tried before giving up.
    #[arg(long, default_value_t = 5)]
    pub attempts: u32,
    /// Commit author and committer name.
    #[arg(long, env = "CI_GIT_AUTHOR_NAME", default_value = "ironvessel-ci")]
    pub author_name: String,
    /// Commit author and committer email.
    #[arg(
        long,
        env = "CI_GIT_AUTHOR_EMAIL",
        default_value = "ci@ironvessel.invalid"
    )]
    pub author_email: String,
}

/// One image set to one digest in one pins file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bump {
    /// The pins file, relative to the clone.
    pub file: PathBuf,
    /// The environment (the overlay's folder name).
    pub environment: String,
    /// The image entry's name.
    pub image: String,
    /// The image reference it now produces.
    pub reference: String,
    /// The pinned digest.
    pub digest: String,
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// No pins changed: nothing to commit.
    NothingToDo,
    /// The remote already had every bump (another pipeline pushed the same digests).
    AlreadyThere,
    /// Our commit is on the remote branch.
    Pushed {
        /// The pushed commit.
        commit: String,
        /// Pushes it took.
        attempts: u32,
        /// What it bumped.
        bumps: Vec<Bump>,
    },
}

impl fmt::Display for Pushed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NothingToDo => f.write_str("no image pins changed: nothing to push"),
            Self::AlreadyThere => f.write_str("the remote already pins these digests"),
            Self::Pushed {
                commit,
                attempts,
                bumps,
            } => {
                write!(f, "pushed {commit} after {attempts} attempt(s):")?;
                for bump in bumps {
                    write!(f, "\n  {} {} {}", bump.environment, bump.image, bump.digest)?;
                }
                Ok(())
            }
        }
    }
}

/// The commit message: a subject naming environments and images, and one line per bump
/// with its digest.
pub fn commit_message(bumps: &[Bump]) -> String {
    let environments: BTreeSet<&str> = bumps.iter().map(|b| b.environment.as_str()).collect();
    let images: BTreeSet<&str> = bumps
        .iter()
        .map(|b| b.image.rsplit('/').next().unwrap_or(&b.image))
        .collect();
    let mut message = format!(
        "deploy({}): {}\n\n",
        environments.into_iter().collect::<Vec<_>>().join(", "),
        images.into_iter().collect::<Vec<_>>().join(", ")
    );
    for bump in bumps {
        message.push_str(&format!("{} {}\n", bump.environment, bump.reference));
    }
    message
}

/// Commits the changed pins and pushes them to `options.branch`, rebasing and retrying
/// when another pipeline pushed first.
pub fn push(options: &PushOptions) -> Result<Pushed> {
    let git = Git::new(&options.workdir);
    if git.rebase_in_progress()? {
        bail!("a rebase is in progress in {}", options.workdir.display());
    }
    let start = git.head()?;
    let bumps = pending_bumps(&git, &options.paths)?;
    if bumps.is_empty() {
        return Ok(Pushed::NothingToDo);
    }
    let outcome =
        commit(&git, options, &bumps).and_then(|()| push_with_retries(&git, options, &bumps));
    if outcome.is_err() {
        restore(&git, &start);
    }
    outcome
}

fn push_with_retries(git: &Git, options: &PushOptions, bumps: &[Bump]) -> Result<Pushed> {
    let refspec = format!("HEAD:refs/heads/{}", options.branch);
    for attempt in 1..=options.attempts.max(1) {
        let output = git.output(&["push", "--porcelain", &options.repo, &refspec])?;
        if output.status.success() {
            return Ok(Pushed::Pushed {
                commit: git.head()?,
                attempts: attempt,
                bumps: bumps.to_vec(),
            });
        }
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !is_behind(&report) {
            bail!("the push was rejected: {}", redact(report.trim()));
        }
        if attempt == options.attempts.max(1) {
            break;
        }
        git.run(&["fetch", "--quiet", &options.repo, &options.branch])?;
        let [name, email] = identity(options);
        if !git.succeeds(&["-c", &name, "-c", &email, "rebase", "--quiet", "FETCH_HEAD"])? {
            git.run(&["rebase", "--abort"])?;
            git.run(&["reset", "--quiet", "--hard", "FETCH_HEAD"])?;
            if !reapply(git, bumps)? {
                return Ok(Pushed::AlreadyThere);
            }
            commit(git, options, bumps)?;
        } else if git.run(&["rev-parse", "HEAD"])? == git.run(&["rev-parse", "FETCH_HEAD"])? {
            // Our commit became empty on top of the remote: it had the same digests.
            return Ok(Pushed::AlreadyThere);
        }
    }
    bail!(
        "the branch {} kept moving: gave up after {} attempts",
        options.branch,
        options.attempts
    )
}

/// Whether git refused the push because the remote branch has commits we lack.
fn is_behind(report: &str) -> bool {
    // `[rejected]` (fetch first, non-fast-forward) means someone else pushed first, and so
    // does a ref the remote could not lock because another push was updating it. Any
    // other `[remote rejected]` (a hook or a protection rule said no) is final.
    report.contains("[rejected]")
        || report.contains("(failed to update ref)")
        || report.contains("cannot lock ref")
}

/// `-c` settings that make the pipeline the author and committer of what it writes
/// (CI clones have no identity configured).
fn identity(options: &PushOptions) -> [String; 2] {
    [
        format!("user.name={}", options.author_name),
        format!("user.email={}", options.author_email),
    ]
}

fn commit(git: &Git, options: &PushOptions, bumps: &[Bump]) -> Result<()> {
    let files: BTreeSet<String> = bumps
        .iter()
        .map(|bump| bump.file.to_string_lossy().into_owned())
        .collect();
    let mut add = vec!["add", "--"];
    add.extend(files.iter().map(String::as_str));
    git.run(&add)?;
    let [name, email] = identity(options);
    git.run(&[
        "-c",
        &name,
        "-c",
        &email,
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        &commit_message(bumps),
    ])?;
    Ok(())
}

/// Sets every bump again on the current files; returns whether anything changed.
fn reapply(git: &Git, bumps: &[Bump]) -> Result<bool> {
    let mut changed = false;
    for bump in bumps {
        let path = git.dir().join(&bump.file);
        let mut file = PinsFile::load(&path)?;
        file.set_digest(&bump.image, &Digest::parse(&bump.digest)?)?;
        changed |= file.save()?;
    }
    Ok(changed)
}

/// Puts the clone back where `push` found it, minus the bumps: used when giving up.
fn restore(git: &Git, start: &str) {
    if git.rebase_in_progress().unwrap_or(false) {
        let _ = git.run(&["rebase", "--abort"]);
    }
    // Best effort: the error being reported matters more than a failure here.
    let _ = git.run(&["reset", "--quiet", "--hard", start]);
}

/// The pins that differ between HEAD and the working tree, in files under `paths`.
pub fn pending_bumps(git: &Git, paths: &[PathBuf]) -> Result<Vec<Bump>> {
    let mut args = vec!["diff", "--name-only", "HEAD", "--"];
    let paths: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let changed = git.run(&args)?;
    let mut bumps = Vec::new();
    for file in changed
        .lines()
        .filter(|line| line.ends_with("kustomization.yaml"))
    {
        let file = PathBuf::from(file);
        let path = git.dir().join(&file);
        let now = PinsFile::load(&path)?;
        let before_text = git.run(&["show", &format!("HEAD:{}", file.to_string_lossy())])?;
        let before = PinsFile::parse(&path, &before_text)?.pins()?;
        let environment = environment_of(&file);
        for pin in now.pins()? {
            let Some(digest) = pin.digest.clone() else {
                continue;
            };
            if before
                .iter()
                .any(|old| old.name == pin.name && old.digest.as_deref() == Some(&digest))
            {
                continue;
            }
            bumps.push(Bump {
                file: file.clone(),
                environment: environment.clone(),
                image: pin.name.clone(),
                reference: pin.reference(),
                digest,
            });
        }
    }
    bumps.sort();
    Ok(bumps)
}

/// `k8s/overlays/test/images/kustomization.yaml` → `test`.
fn environment_of(file: &Path) -> String {
    let dir = file.parent().unwrap_or(file);
    let dir = if dir.file_name().is_some_and(|name| name == "images") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    dir.file_name().map_or_else(
        || "unknown".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_lists_environments_images_and_digests() {
        let bump = |image: &str, digest: char| Bump {
            file: PathBuf::from("k8s/overlays/test/images/kustomization.yaml"),
            environment: "test".to_owned(),
            image: format!("ironvessel/{image}"),
            reference: format!(
                "ghcr.io/ironvessel/{image}@sha256:{}",
                digest.to_string().repeat(64)
            ),
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
        };
        let message = commit_message(&[bump("inventory", 'a'), bump("order", 'b')]);
        let mut lines = message.lines();
        assert_eq!(lines.next(), Some("deploy(test): inventory, order"));
        assert_eq!(lines.next(), Some(""));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("test ghcr.io/ironvessel/inventory@sha256:aaaa")
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("test ghcr.io/ironvessel/order@sha256:bbbb")
        );
    }

    #[test]
    fn environments_come_from_the_overlay_folder() {
        assert_eq!(
            environment_of(Path::new("k8s/overlays/test/images/kustomization.yaml")),
            "test"
        );
        assert_eq!(
            environment_of(Path::new("k8s/overlays/prod/kustomization.yaml")),
            "prod"
        );
    }

    #[test]
    fn only_out_of_date_rejections_are_retried() {
        assert!(is_behind(
            "To /r.git\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone"
        ));
        assert!(!is_behind(
            "To /r.git\n!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone"
        ));
    }
}
