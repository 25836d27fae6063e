//! Runs the service processes: spawns them in their own process groups, streams their
//! output behind a `[inventory-2] ` prefix, notices when one dies, and stops them all
//! with SIGTERM (then SIGKILL) on Ctrl-C, SIGTERM, or failure.

use std::{
    future::Future,
    io::{IsTerminal, Write},
    path::Path,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, anyhow};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::Command,
    signal::unix::{Signal, SignalKind, signal},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

/// How long services get to shut down gracefully before they are killed.
pub(crate) const GRACE: Duration = Duration::from_secs(10);

/// ANSI colours (SGR codes) for prefixes, one per row of the service table.
const COLOURS: [&str; 6] = ["36", "32", "33", "35", "34", "91"];
/// Bold, for `up`'s own lines.
const OWN_COLOUR: &str = "1";

/// The colour of service row `index`.
pub(crate) fn colour(index: usize) -> &'static str {
    COLOURS[index % COLOURS.len()]
}

/// Formats `[label] ` padded to `width`, coloured when `colour` is given.
pub(crate) fn prefix(label: &str, width: usize, colour: Option<&str>) -> String {
    let padded = format!("{:<width$}", format!("[{label}]"), width = width + 2);
    match colour {
        Some(code) => format!("\x1b[{code}m{padded}\x1b[0m "),
        None => format!("{padded} "),
    }
}

/// Why the supervisor stopped waiting.
#[derive(Debug)]
pub(crate) enum Stop {
    /// SIGINT or SIGTERM: a normal end.
    Signal(&'static str),
    /// A process ended on its own.
    Exited {
        /// Its label.
        label: String,
        /// How it ended.
        status: String,
    },
    /// What we were waiting for failed (e.g. a readiness deadline).
    Failed(anyhow::Error),
}

impl Stop {
    /// The exit status of `up` for this stop.
    pub(crate) fn into_result(self) -> Result<()> {
        match self {
            Self::Signal(_) => Ok(()),
            Self::Exited { label, status } => {
                Err(anyhow!("{label} exited unexpectedly ({status})"))
            }
            Self::Failed(error) => Err(error),
        }
    }
}

#[derive(Debug)]
struct Process {
    label: String,
    pid: u32,
    exited: bool,
}

/// SIGINT and SIGTERM, installed so that neither kills us before the children stop.
#[derive(Debug)]
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("could not handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("could not handle SIGTERM")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// The running processes.
#[derive(Debug)]
pub(crate) struct Supervisor {
    width: usize,
    colour: bool,
    processes: Vec<Process>,
    exits_tx: mpsc::UnboundedSender<(usize, String)>,
    exits: mpsc::UnboundedReceiver<(usize, String)>,
    output: Vec<JoinHandle<()>>,
    signals: Signals,
}

impl Supervisor {
    /// A supervisor whose prefixes are `width` characters wide inside the brackets.
    pub(crate) fn new(width: usize) -> Result<Self> {
        let (exits_tx, exits) = mpsc::unbounded_channel();
        Ok(Self {
            width: width.max("xtask".len()),
            colour: std::io::stdout().is_terminal(),
            processes: Vec::new(),
            exits_tx,
            exits,
            output: Vec::new(),
            signals: Signals::install()?,
        })
    }

    /// Prints one of our own lines, prefixed like the services' output.
    pub(crate) fn say(&self, message: &str) {
        let prefix = prefix("xtask", self.width, self.colour.then_some(OWN_COLOUR));
        let mut out = std::io::stdout().lock();
        for line in message.lines() {
            // A closed stdout must not stop the shutdown.
            writeln!(out, "{prefix}{line}").ok();
        }
    }

    /// Starts `program` as `label`, with `env` added, in `cwd`.
    pub(crate) fn spawn(
        &mut self,
        label: &str,
        colour: &str,
        program: &Path,
        cwd: &Path,
        env: &[(String, String)],
    ) -> Result<()> {
        let mut child = Command::new(program)
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: a terminal's Ctrl-C reaches only us, and we stop the
            // children in order instead of all of them at once.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {label} ({})", program.display()))?;
        let pid = child.id().context("a just-spawned child has a pid")?;
        let prefix = prefix(label, self.width, self.colour.then_some(colour));
        if let Some(stdout) = child.stdout.take() {
            self.output
                .push(tokio::spawn(stream(stdout, prefix.clone())));
        }
        if let Some(stderr) = child.stderr.take() {
            self.output.push(tokio::spawn(stream(stderr, prefix)));
        }
        let index = self.processes.len();
        let exits = self.exits_tx.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => describe(status),
                Err(error) => format!("could not wait for it: {error}"),
            };
            // The receiver lives as long as the supervisor; a send after that is moot.
            exits.send((index, status)).ok();
        });
        self.processes.push(Process {
            label: label.to_owned(),
            pid,
            exited: false,
        });
        Ok(())
    }

    /// Runs `work` until it finishes, a process exits, or a signal arrives.
    pub(crate) async fn guard<T>(
        &mut self,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T, Stop> {
        tokio::select! {
            result = work => result.map_err(Stop::Failed),
            stop = self.next_stop() => Err(stop),
        }
    }

    /// Waits for a signal or an unexpected exit.
    pub(crate) async fn next_stop(&mut self) -> Stop {
        tokio::select! {
            name = self.signals.recv() => Stop::Signal(name),
            Some((index, status)) = self.exits.recv() => {
                self.processes[index].exited = true;
                let label = self.processes[index].label.clone();
                self.say(&format!("{label} exited unexpectedly ({status}): stopping the rest"));
                Stop::Exited { label, status }
            }
        }
    }

    /// Sends SIGTERM to every process still running, waits up to [`GRACE`], then kills
    /// the rest; returns once every output stream is drained.
    pub(crate) async fn shutdown(mut self) {
        let running = self.running();
        if !running.is_empty() {
            self.say(&format!(
                "stopping {} process(es) with SIGTERM (up to {}s)",
                running.len(),
                GRACE.as_secs()
            ));
        }
        for index in running {
            send_signal("TERM", self.processes[index].pid).await;
        }
        let deadline = Instant::now() + GRACE;
        self.collect_exits(deadline).await;
        let stubborn = self.running();
        for &index in &stubborn {
            self.say(&format!(
                "{} did not stop within {}s: killing it",
                self.processes[index].label,
                GRACE.as_secs()
            ));
            send_signal("KILL", self.processes[index].pid).await;
        }
        if !stubborn.is_empty() {
            self.collect_exits(Instant::now() + Duration::from_secs(2))
                .await;
        }
        for handle in self.output.drain(..) {
            // Output ends when the process does; the timeout covers a stray grandchild.
            tokio::time::timeout(Duration::from_secs(1), handle)
                .await
                .ok();
        }
        self.say("all processes stopped");
    }

    fn running(&self) -> Vec<usize> {
        (0..self.processes.len())
            .filter(|&index| !self.processes[index].exited)
            .collect()
    }

    async fn collect_exits(&mut self, deadline: Instant) {
        while !self.running().is_empty() {
            match tokio::time::timeout_at(deadline, self.exits.recv()).await {
                Ok(Some((index, status))) => {
                    self.processes[index].exited = true;
                    let label = self.processes[index].label.clone();
                    self.say(&format!("{label} stopped ({status})"));
                }
                Ok(None) | Err(_) => return,
            }
        }
    }
}

/// Sends `SIG<name>` with the `kill` utility: std cannot send SIGTERM and the
/// workspace forbids the `unsafe` a direct `kill(2)` needs.
async fn send_signal(name: &str, pid: u32) {
    let result = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if let Err(error) = result {
        eprintln!("could not send SIG{name} to {pid}: {error}");
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Copies `reader` to stdout line by line behind `prefix`.
async fn stream(reader: impl AsyncRead + Unpin, prefix: String) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let mut out = std::io::stdout().lock();
                writeln!(out, "{prefix}{}", text.trim_end_matches(['\n', '\r'])).ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_have_a_fixed_width() {
        let width = "inventory-2".len();
        assert_eq!(prefix("inventory-2", width, None), "[inventory-2] ");
        assert_eq!(prefix("gateway-1", width, None), "[gateway-1]   ");
        assert_eq!(
            prefix("gateway-1", width, None).len(),
            prefix("inventory-2", width, None).len()
        );
    }

    #[test]
    fn coloured_prefixes_wrap_the_padded_label_in_ansi_codes() {
        assert_eq!(
            prefix("order-1", 9, Some(super::colour(0))),
            "\x1b[36m[order-1]  \x1b[0m "
        );
    }
}
