//! Project automation for Ironvessel, run as `cargo xtask <command>`.
//!
//! `cargo xtask test` is the README's test command and what `.ci/run` executes: it runs
//! every check in order (format, lints, the architecture check, a compile of the benches,
//! doctests, and the test suite) and stops at the first failure with a non-zero exit.
//! `cargo xtask up` runs the whole shop locally (see the `up` module); `cargo xtask perf`
//! runs the load-test experiments and writes `target/perf/report.md` (see `perf`).

mod arch_check;
mod perf;
mod up;

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Ironvessel project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs fmt, clippy, the architecture check, compiles the benches, runs the doctests,
    /// the shop's walkthrough (`up --check`) and the whole test suite.
    Test {
        /// Skips `cargo fmt` and `cargo clippy`, for fast local iteration.
        #[arg(long)]
        skip_lint: bool,
        /// Skips `cargo xtask up --check` (e.g. while the shop already runs on its ports).
        #[arg(long)]
        skip_up: bool,
    },
    /// Checks that no domain module imports an infrastructure crate.
    ArchCheck,
    /// Runs the whole shop locally: infrastructure check, databases, build, every
    /// service with demo data, the gateway on http://127.0.0.1:9080. Ctrl-C stops it.
    Up {
        /// Runs N replicas of a service on ports port+100, port+200, ... (repeatable),
        /// e.g. `--replicas inventory=3`.
        #[arg(long = "replicas", value_name = "SERVICE=N")]
        replicas: Vec<up::ReplicaCount>,
        /// Runs the README walkthrough against the started shop, prints PASS/FAIL per
        /// step, stops everything, and exits 0 only if every step passed.
        #[arg(long)]
        check: bool,
    },
    /// Runs short versions of the load-test experiments (baseline, SLO run, merge,
    /// caching, scaling under CPU quotas) and writes target/perf/report.md. Not part of
    /// `test`; stop `cargo xtask up` first, it uses the same ports.
    Perf(perf::PerfArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Printed by hand: anyhow's `Termination` adds a backtrace when RUST_BACKTRACE is set.
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Cmd) -> Result<()> {
    let root = workspace_root()?;
    match command {
        Cmd::Test { skip_lint, skip_up } => test(&root, skip_lint, skip_up),
        Cmd::ArchCheck => step("arch-check: domain stays pure", || arch_check::run(&root)),
        Cmd::Up { replicas, check } => up::run(&root, &replicas, check),
        Cmd::Perf(args) => perf::run(&root, &args),
    }
}

fn test(root: &Path, skip_lint: bool, skip_up: bool) -> Result<()> {
    if !skip_lint {
        cargo(root, &["fmt", "--all", "--check"])?;
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )?;
    }
    step("arch-check: domain stays pure", || arch_check::run(root))?;
    // The dev profile shares artifacts with the tests; a release build would double CI time.
    cargo(root, &["build", "--workspace", "--benches"])?;
    println!("note: benches were only compiled; real numbers come from `cargo bench`");
    // nextest does not run doctests. They run first so that the suite's summary is the
    // last thing a reader (or CI) sees.
    cargo(root, &["test", "--workspace", "--doc"])?;
    if skip_up {
        println!("note: skipping `cargo xtask up --check`");
    } else {
        // The README's run command and curl walkthrough, against the real shop on the
        // default ports: start everything, run the walkthrough, stop everything.
        cargo(root, &["xtask", "up", "--check"])?;
    }
    if has_nextest(root) {
        cargo(root, &["nextest", "run", "--workspace", "--no-fail-fast"])?;
    } else {
        println!("note: cargo-nextest not found, falling back to `cargo test`");
        cargo(root, &["test", "--workspace", "--no-fail-fast"])?;
    }
    Ok(())
}

/// Runs `f` between a banner naming it and a line reporting how long it took.
fn step(title: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("==> {title}");
    let start = Instant::now();
    let result = f();
    let elapsed = start.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("<== ok in {elapsed:.1}s"),
        Err(_) => println!("<== FAILED after {elapsed:.1}s"),
    }
    result
}

/// Runs cargo with `args` in the workspace root, inheriting stdio and the environment.
fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let title = format!("cargo {}", args.join(" "));
    step(&title, || {
        let status = cargo_command(root)
            .args(args)
            .status()
            .with_context(|| format!("could not start `{title}`"))?;
        if !status.success() {
            bail!("`{title}` failed with {status}");
        }
        Ok(())
    })
}

fn cargo_command(root: &Path) -> Command {
    // `cargo run` sets CARGO to the cargo that built us, which keeps the toolchain consistent.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root);
    command
}

fn has_nextest(root: &Path) -> bool {
    cargo_command(root)
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The workspace root: xtask lives at `<root>/ci/xtask`.
fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .context("xtask is expected to live at <workspace>/ci/xtask")
}
