//! `ci affected` on a scratch workspace in a real git repository.

use std::path::Path;

use crate::support::{ci, git, succeed};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn manifest(name: &str, deps: &[&str], binary: bool) -> String {
    let deps: String = deps
        .iter()
        .map(|dep| format!("{dep} = {{ path = \"../{dep}\" }}\n"))
        .collect();
    let target = if binary {
        "[[bin]]\nname = \"NAME\"\npath = \"src/main.rs\"\n".replace("NAME", name)
    } else {
        String::new()
    };
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n{target}\n[dependencies]\n{deps}"
    )
}

/// A workspace like ours: a shared `platform` library, two services on it, a tool.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(
        root,
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"services/*\", \"ci/xtask\"]\n",
    );
    write(
        root,
        "services/platform/Cargo.toml",
        &manifest("platform", &[], false),
    );
    write(root, "services/platform/src/lib.rs", "");
    for service in ["inventory", "account"] {
        write(
            root,
            &format!("services/{service}/Cargo.toml"),
            &manifest(service, &["platform"], true),
        );
        write(
            root,
            &format!("services/{service}/src/main.rs"),
            "fn main() {}\n",
        );
    }
    write(
        root,
        "ci/xtask/Cargo.toml",
        &manifest("xtask", &[], true).replace("../", "../../services/"),
    );
    write(root, "ci/xtask/src/main.rs", "fn main() {}\n");
    write(root, "README.md", "# shop\n");
    git(root, &["init", "--quiet", "-b", "main"]);
    git(root, &["add", "."]);
    git(root, &["commit", "--quiet", "-m", "start"]);
    dir
}

fn change(root: &Path, path: &str) -> Vec<String> {
    // Append a comment in the file's own syntax, so that the workspace stays valid.
    let comment = if path.ends_with(".rs") {
        "// changed"
    } else {
        "# changed"
    };
    let before = std::fs::read_to_string(root.join(path)).unwrap_or_default();
    write(root, path, &format!("{before}{comment}\n"));
    git(root, &["add", "."]);
    git(
        root,
        &["commit", "--quiet", "-m", &format!("change {path}")],
    );
    let output = succeed(ci(root).args(["affected", "--since", "HEAD~1"]));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn affected_lists_the_changed_service_every_dependant_of_a_shared_crate_and_nothing_for_docs() {
    let dir = workspace();
    let root = dir.path();
    assert_eq!(
        change(root, "services/inventory/src/main.rs"),
        ["inventory"]
    );
    assert_eq!(
        change(root, "services/platform/src/lib.rs"),
        ["account", "inventory"]
    );
    assert!(change(root, "README.md").is_empty());
    assert!(change(root, "services/account/README.md").is_empty());
    assert!(
        change(root, "ci/xtask/src/main.rs").is_empty(),
        "tools are not images"
    );
    assert_eq!(change(root, "Cargo.toml"), ["account", "inventory"]);
}

#[test]
fn affected_prints_a_build_matrix_as_json() {
    let dir = workspace();
    let root = dir.path();
    write(
        root,
        "services/account/src/main.rs",
        "fn main() { let _ = 1; }\n",
    );
    git(root, &["commit", "--quiet", "-am", "account"]);
    let output = succeed(ci(root).args(["affected", "--since", "HEAD~1", "--format", "json"]));
    let matrix: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        matrix,
        serde_json::json!([{"name": "account", "context": ".", "dockerfile": "Dockerfile"}])
    );
}
