//! Shared helpers: the repository, the validators, the `ci` binary and scratch git repos.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

/// Where the validators are installed by `.ci/run` (also tried when not on PATH).
const VENV: &str = ".cache/ironvessel/venv";

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository exists")
}

/// A command for validator `name`.
pub(crate) fn tool(name: &str) -> Command {
    Command::new(tool_path(name))
}

/// Validator `name`, found on PATH or in the CI venv. Fails the test, saying how to
/// install it, when it is missing: a missing linter must never pass.
pub(crate) fn tool_path(name: &str) -> PathBuf {
    let venv = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(VENV).join("bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(venv)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed. Run `.ci/run`, or install the validators by hand:\n  \
                 python3 -m venv ~/{VENV} && ~/{VENV}/bin/pip install -r ci/requirements-tools.txt\n  \
                 export PATH=~/{VENV}/bin:$PATH\n(kubectl comes from your distribution or https://kubernetes.io/docs/tasks/tools/)"
            )
        })
}

/// Runs `command` and fails the test with its output unless it succeeds.
pub(crate) fn succeed(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every file under `dir` (skipping build output and VCS folders) whose name satisfies `keep`.
pub(crate) fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if ![
                    OsStr::new("target"),
                    OsStr::new(".git"),
                    OsStr::new("node_modules"),
                ]
                .contains(&name.as_os_str())
                {
                    stack.push(path);
                }
            } else if keep(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Renders an overlay (relative to the repository) into objects.
pub(crate) fn render(overlay: &str) -> Vec<Value> {
    let text =
        ci::kustomize::render(&repo().join(overlay)).unwrap_or_else(|error| panic!("{error:#}"));
    ci::policy::parse(&text).expect("kustomize prints valid YAML")
}

/// The objects of a YAML file of the repository.
pub(crate) fn objects_in(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join(path)).expect("the file exists");
    ci::policy::parse(&text).expect("valid YAML")
}

/// The `ci` binary.
pub(crate) fn ci(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ci"));
    // Like a CI runner: no git identity or settings of the machine's user.
    command
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    command
}

/// Runs git in `dir` with a fixed identity and fails the test unless it succeeds.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let output = succeed(
        Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@ironvessel.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir),
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A digest made of one repeated hex digit.
pub(crate) fn digest(digit: char) -> String {
    format!("sha256:{}", digit.to_string().repeat(64))
}
