//! `ci gitops push` against a bare remote and clones of it, as two pipelines would.

use std::path::{Path, PathBuf};

use crate::support::{ci, digest, git, repo};

const PINS: &str = "k8s/overlays/test/images/kustomization.yaml";

struct Remote {
    dir: tempfile::TempDir,
}

impl Remote {
    /// A bare remote whose main holds the real test pins.
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        git(
            dir.path(),
            &["init", "--quiet", "--bare", "-b", "main", "remote.git"],
        );
        let seed = dir.path().join("seed");
        git(dir.path(), &["clone", "--quiet", "remote.git", "seed"]);
        std::fs::create_dir_all(seed.join("k8s/overlays/test/images")).expect("mkdir");
        std::fs::copy(repo().join(PINS), seed.join(PINS)).expect("copy");
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "--quiet", "-m", "pins"]);
        git(&seed, &["push", "--quiet", "origin", "main"]);
        Self { dir }
    }

    fn url(&self) -> String {
        self.dir
            .path()
            .join("remote.git")
            .to_string_lossy()
            .into_owned()
    }

    /// A pipeline's fresh clone.
    fn clone(&self, name: &str) -> PathBuf {
        git(self.dir.path(), &["clone", "--quiet", "remote.git", name]);
        self.dir.path().join(name)
    }

    /// The pins on the remote's main.
    fn pins(&self) -> String {
        git(
            &self.dir.path().join("remote.git"),
            &["show", &format!("main:{PINS}")],
        )
    }

    fn log(&self) -> String {
        git(
            &self.dir.path().join("remote.git"),
            &["log", "--format=%B", "main"],
        )
    }
}

fn bump(clone: &Path, image: &str, digit: char) {
    crate::support::succeed(ci(clone).args([
        "bump",
        "--overlay",
        "k8s/overlays/test",
        "--image",
        image,
        "--digest",
        &digest(digit),
    ]));
}

fn push(clone: &Path, url: &str) -> std::process::Output {
    ci(clone)
        .args(["gitops", "push", "--repo", url, "--branch", "main"])
        .output()
        .expect("ran ci")
}

fn assert_clean(clone: &Path) {
    assert_eq!(
        git(clone, &["status", "--porcelain"]),
        "",
        "the clone has changes"
    );
    for dir in ["rebase-merge", "rebase-apply"] {
        let path = git(clone, &["rev-parse", "--git-path", dir]);
        assert!(!clone.join(path).exists(), "a rebase is in progress");
    }
}

#[test]
fn two_pipelines_bumping_different_services_both_land() {
    let remote = Remote::new();
    let first = remote.clone("first");
    let second = remote.clone("second");
    bump(&first, "inventory", 'a');
    bump(&second, "order", 'b');
    let pushed = push(&first, &remote.url());
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    // The second pipeline started from the old main: its first push is rejected.
    let pushed = push(&second, &remote.url());
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    assert!(String::from_utf8_lossy(&pushed.stdout).contains("after 2 attempt(s)"));
    let pins = remote.pins();
    assert!(
        pins.contains(&digest('a')) && pins.contains(&digest('b')),
        "{pins}"
    );
    let log = remote.log();
    assert!(
        log.contains("deploy(test): inventory") && log.contains("deploy(test): order"),
        "{log}"
    );
    assert!(
        log.contains(&format!("test ghcr.io/ironvessel/order@{}", digest('b'))),
        "{log}"
    );
    assert_clean(&first);
    assert_clean(&second);
}

#[test]
fn pipelines_pushing_at_the_same_moment_both_land() {
    let remote = Remote::new();
    let clones: Vec<(PathBuf, &str, char)> = [
        ("a", "account", '1'),
        ("b", "payment", '2'),
        ("c", "gateway", '3'),
    ]
    .into_iter()
    .map(|(name, image, digit)| (remote.clone(name), image, digit))
    .collect();
    for (clone, image, digit) in &clones {
        bump(clone, image, *digit);
    }
    let url = remote.url();
    std::thread::scope(|scope| {
        let pushes: Vec<_> = clones
            .iter()
            .map(|(clone, _, _)| scope.spawn(|| push(clone, &url)))
            .collect();
        for handle in pushes {
            let output = handle.join().expect("the push thread");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    });
    let pins = remote.pins();
    for digit in ['1', '2', '3'] {
        assert!(pins.contains(&digest(digit)), "{pins}");
    }
}

#[test]
fn bumps_that_conflict_textually_are_reapplied_on_top_of_the_remote() {
    let remote = Remote::new();
    let first = remote.clone("first");
    let second = remote.clone("second");
    bump(&first, "inventory", 'a');
    bump(&second, "inventory", 'c');
    bump(&second, "keycloak", 'd');
    assert!(push(&first, &remote.url()).status.success());
    let pushed = push(&second, &remote.url());
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    // The later pipeline's build of the same image wins; its other bump lands too.
    let pins = remote.pins();
    assert!(
        pins.contains(&digest('c')) && pins.contains(&digest('d')) && !pins.contains(&digest('a')),
        "{pins}"
    );
    assert_clean(&second);
}

#[test]
fn a_rejected_push_leaves_the_local_clone_clean() {
    let remote = Remote::new();
    let hook = Path::new(&remote.url()).join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'protected branch' >&2\nexit 1\n").expect("hook");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let clone = remote.clone("pipeline");
    let head = git(&clone, &["rev-parse", "HEAD"]);
    bump(&clone, "inventory", 'e');
    let pushed = push(&clone, &remote.url());
    assert!(!pushed.status.success());
    let error = String::from_utf8_lossy(&pushed.stderr);
    assert!(
        error.contains("rejected") && error.contains("pre-receive hook declined"),
        "{error}"
    );
    assert_clean(&clone);
    assert_eq!(
        git(&clone, &["rev-parse", "HEAD"]),
        head,
        "the local commit was not undone"
    );
    assert!(!remote.pins().contains(&digest('e')));
}

#[test]
fn nothing_to_push_when_no_pin_changed() {
    let remote = Remote::new();
    let clone = remote.clone("idle");
    let pushed = push(&clone, &remote.url());
    assert!(pushed.status.success());
    assert!(String::from_utf8_lossy(&pushed.stdout).contains("nothing to push"));
    assert_eq!(remote.log().lines().filter(|l| !l.is_empty()).count(), 1);
}
