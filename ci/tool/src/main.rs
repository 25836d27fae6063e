//! `ci`: the delivery pipeline's command line (see the crate docs of `ci` for the logic).

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Result, bail};
use ci::{affected, gitops, kustomize, pins, policy};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ci",
    about = "Ironvessel's delivery pipeline: affected images, bumps, promotion, GitOps pushes"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Lists the images that changes since a git ref must rebuild.
    Affected {
        /// The ref to compare HEAD with (e.g. the previous commit of main).
        #[arg(long)]
        since: String,
        /// The repository (any folder inside it).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// `lines`: one image name per line; `json`: a GitHub Actions matrix list.
        #[arg(long, value_enum, default_value_t = Format::Lines)]
        format: Format,
    },
    /// Pins an image of an overlay to a digest (idempotent).
    Bump {
        /// The overlay (its `images/kustomization.yaml` or `kustomization.yaml`) or the file.
        #[arg(long)]
        overlay: PathBuf,
        /// The image: entry name, `newName`, or their last segment (`inventory`).
        #[arg(long)]
        image: String,
        /// `sha256:` and 64 hex digits.
        #[arg(long)]
        digest: String,
        /// Skip (instead of failing) when the overlay does not run this image.
        #[arg(long)]
        if_present: bool,
    },
    /// Copies image digests from one environment to another.
    Promote {
        /// Source environment (`test`).
        #[arg(long)]
        from: String,
        /// Target environment (`prod`).
        #[arg(long)]
        to: String,
        /// Where the environments' overlays are.
        #[arg(long, default_value = "k8s/overlays")]
        overlays: PathBuf,
        /// Only these images (default: all).
        #[arg(long = "image")]
        images: Vec<String>,
    },
    /// GitOps operations.
    Gitops {
        #[command(subcommand)]
        command: GitopsCmd,
    },
    /// Renders an overlay and checks the manifest policy on it.
    Policy {
        /// The overlay to render.
        #[arg(long)]
        overlay: PathBuf,
        /// Demand that every image is pinned by digest.
        #[arg(long)]
        require_digests: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GitopsCmd {
    /// Commits the changed image pins and pushes them, rebasing and retrying.
    Push(gitops::PushOptions),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Lines,
    Json,
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Cmd) -> Result<()> {
    match command {
        Cmd::Affected {
            since,
            root,
            format,
        } => {
            let images = affected::since(&root, &since)?;
            match format {
                Format::Lines => images.iter().for_each(|image| println!("{}", image.name)),
                Format::Json => println!("{}", serde_json::to_string(&images)?),
            }
        }
        Cmd::Bump {
            overlay,
            image,
            digest,
            if_present,
        } => match pins::bump(&overlay, &image, &pins::Digest::parse(&digest)?, if_present)? {
            Some(change) => println!("{change}"),
            None => println!("{image}: not deployed by {}, skipped", overlay.display()),
        },
        Cmd::Promote {
            from,
            to,
            overlays,
            images,
        } => {
            for change in pins::promote(&overlays, &from, &to, &images)? {
                println!("{change}");
            }
        }
        Cmd::Gitops {
            command: GitopsCmd::Push(options),
        } => println!("{}", gitops::push(&options)?),
        Cmd::Policy {
            overlay,
            require_digests,
        } => {
            let objects = policy::parse(&kustomize::render(&overlay)?)?;
            let violations = policy::check(&objects, policy::Rules { require_digests });
            for violation in &violations {
                eprintln!("{violation}");
            }
            if !violations.is_empty() {
                bail!(
                    "{} policy violation(s) in {}",
                    violations.len(),
                    overlay.display()
                );
            }
            println!(
                "{}: {} objects, no policy violation",
                overlay.display(),
                objects.len()
            );
        }
    }
    Ok(())
}
