//! `ci bump` and `ci promote` on copies of the real overlays' pins.

use std::{path::Path, process::Output};

use crate::support::{ci, digest, repo, succeed};

/// A scratch `k8s/overlays` with the real test and prod pins.
fn overlays() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    for env in ["test", "prod"] {
        let target = dir.path().join(env).join("images");
        std::fs::create_dir_all(&target).expect("mkdir");
        std::fs::copy(
            repo().join(format!("k8s/overlays/{env}/images/kustomization.yaml")),
            target.join("kustomization.yaml"),
        )
        .expect("copy");
    }
    dir
}

fn pins(dir: &Path, env: &str) -> String {
    std::fs::read_to_string(dir.join(env).join("images/kustomization.yaml")).expect("the pins")
}

fn bump(dir: &Path, image: &str, digest: &str) -> String {
    let output = try_bump(dir, image, digest, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn bumping_twice_with_the_same_digest_changes_nothing_the_second_time() {
    let dir = overlays();
    let before = pins(dir.path(), "test");
    let first = bump(dir.path(), "inventory", &digest('a'));
    assert!(first.contains(&format!("-> {}", digest('a'))), "{first}");
    let after_first = pins(dir.path(), "test");
    // The real file is already in the canonical form: a bump changes exactly one line.
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after_first.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(before.lines().count(), after_first.lines().count());
    let second = bump(dir.path(), "inventory", &digest('a'));
    assert!(second.contains("nothing to do"), "{second}");
    assert_eq!(
        pins(dir.path(), "test"),
        after_first,
        "the second bump rewrote the file"
    );
}

/// Runs `ci bump` on the test pins, successful or not.
fn try_bump(dir: &Path, image: &str, digest: &str, extra: &[&str]) -> Output {
    ci(dir)
        .args([
            "bump",
            "--overlay",
            "test",
            "--image",
            image,
            "--digest",
            digest,
        ])
        .args(extra)
        .output()
        .expect("ran ci")
}

#[test]
fn bump_rejects_bad_digests_and_unknown_images() {
    let dir = overlays();
    assert!(
        !try_bump(dir.path(), "inventory", "sha256:abc", &[])
            .status
            .success()
    );
    let unknown = try_bump(dir.path(), "nope", &digest('a'), &[]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no `images` entry for \"nope\""));
    let skipped = try_bump(dir.path(), "nope", &digest('a'), &["--if-present"]);
    assert!(skipped.status.success());
    assert!(String::from_utf8_lossy(&skipped.stdout).contains("skipped"));
}

/// Runs `ci promote --from test --to prod` with `extra` arguments; returns its stdout.
fn promote(dir: &Path, extra: &[&str]) -> String {
    let output = succeed(
        ci(dir)
            .args([
                "promote",
                "--from",
                "test",
                "--to",
                "prod",
                "--overlays",
                ".",
            ])
            .args(extra),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn promote_copies_the_digests_test_runs_to_prod() {
    let dir = overlays();
    bump(dir.path(), "inventory", &digest('b'));
    bump(dir.path(), "seeder", &digest('c'));
    promote(dir.path(), &[]);
    let prod = pins(dir.path(), "prod");
    assert!(prod.contains(&digest('b')), "{prod}");
    assert!(!prod.contains(&digest('c')), "prod does not run the seeder");
    assert!(promote(dir.path(), &["--image", "inventory"]).contains("nothing to do"));
    assert_eq!(pins(dir.path(), "prod"), prod);
}
