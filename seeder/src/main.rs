//! `seeder`: the command line over the `seeder` library. Database URLs and passwords come
//! from `SEEDER_*` variables or a `--config` file (see `seeder::target`), never from
//! arguments.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use seeder::{
    Plan, Profile, RunOptions, Safety, Service, Shard, Target, Targets, VerifyOptions,
    bench::BenchOptions, load::DEFAULT_CHUNK_SIZE, plan::default_until,
};

/// Fills the Ironvessel databases with realistic, consistent data.
#[derive(Debug, Parser)]
#[command(name = "seeder", version)]
struct Cli {
    /// A file of SEEDER_*=value lines; variables in the environment win over it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the plan (rows per table, size, time) and the targets; touch nothing.
    Plan(PlanArgs),
    /// Load the plan.
    Run(RunArgs),
    /// Check every cross-database reference and rule; exit non-zero on violations.
    Verify {
        /// Also print a checksum per table.
        #[arg(long)]
        checksum: bool,
        /// Allow a remote host without sslmode=verify-full.
        #[arg(long)]
        insecure_tls: bool,
    },
    /// Empty the seeded tables and the seeder's bookkeeping.
    Reset {
        /// A non-local host this command may write to (repeatable).
        #[arg(long = "confirm-host")]
        confirm_hosts: Vec<String>,
        /// Allow a remote host without sslmode=verify-full.
        #[arg(long)]
        insecure_tls: bool,
    },
    /// Time `pgbench -i` and a seeder profile on the same server, in scratch databases.
    Bench {
        /// The server's maintenance database (SEEDER_BENCH_DATABASE_URL).
        #[arg(
            long,
            env = "SEEDER_BENCH_DATABASE_URL",
            hide_env_values = true,
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        database_url: String,
        /// pgbench scale (100 = 10 million accounts).
        #[arg(long, default_value_t = 100)]
        scale: u32,
        /// The seeder profile to compare.
        #[arg(long, value_enum, default_value_t = Profile::Large)]
        profile: Profile,
        /// Chunks loaded at once.
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
        /// The pgbench binary.
        #[arg(long)]
        pgbench: Option<PathBuf>,
        /// A non-local host this command may write to (repeatable).
        #[arg(long = "confirm-host")]
        confirm_hosts: Vec<String>,
    },
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// Size preset.
    #[arg(long, value_enum, default_value_t = Profile::Small)]
    profile: Profile,
    /// The seed every row is derived from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Users (overrides the profile).
    #[arg(long)]
    users: Option<u64>,
    /// Products (overrides the profile).
    #[arg(long)]
    products: Option<u64>,
    /// Payments (overrides the profile).
    #[arg(long)]
    payments: Option<u64>,
    /// End of the period timestamps spread over (RFC 3339).
    #[arg(long, default_value_t = default_until())]
    until: DateTime<Utc>,
    /// Length of that period in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
}

impl PlanArgs {
    fn plan(&self) -> Plan {
        let profile = Plan::profile(self.profile, self.seed);
        let mut plan = Plan::with_counts(
            self.seed,
            self.users.unwrap_or(profile.users),
            self.products.unwrap_or(profile.products),
            self.payments.unwrap_or(profile.payments),
        );
        plan.until = self.until;
        plan.days = self.days;
        plan
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Chunks loaded at once (connections per database).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    /// Load only chunks c with c % n == i (e.g. a Kubernetes indexed Job's index).
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// Continue the unfinished run found in the databases (its stored plan wins).
    #[arg(long)]
    resume: bool,
    /// Add to tables that already hold rows.
    #[arg(long)]
    append: bool,
    /// Print the plan and the checks, and touch nothing.
    #[arg(long)]
    dry_run: bool,
    /// A non-local host this run may write to (repeatable).
    #[arg(long = "confirm-host")]
    confirm_hosts: Vec<String>,
    /// Allow a remote host without sslmode=verify-full.
    #[arg(long)]
    insecure_tls: bool,
    /// Parents (users, products, payments) per transaction.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE)]
    chunk_size: u64,
    /// Keep indexes in place while loading (slower).
    #[arg(long)]
    keep_indexes: bool,
    /// No progress bars.
    #[arg(long)]
    no_progress: bool,
    /// maintenance_work_mem for the index rebuilds.
    #[arg(long, default_value = "256MB")]
    maintenance_work_mem: String,
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

fn targets(config: Option<&PathBuf>) -> anyhow::Result<(Targets, platform::config::Env)> {
    let file = config
        .map(|path| seeder::target::read_config_file(path))
        .transpose()?
        .unwrap_or_default();
    let env = seeder::target::env_with_file(file);
    Ok((Targets::from_env(&env)?, env))
}

fn print_targets(targets: &Targets) {
    for target in targets.iter() {
        println!(
            "  {:<10} {}{}",
            target.service.name(),
            target,
            if target.is_local() { "" } else { "  (remote)" }
        );
    }
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let (targets, env) = targets(cli.config.as_ref())?;
    match cli.command {
        Command::Plan(args) => {
            println!("{}", args.plan());
            println!("targets:");
            print_targets(&targets);
        }
        Command::Run(args) => {
            let plan = args.plan.plan();
            let options = RunOptions {
                jobs: args.jobs,
                shard: args.shard,
                resume: args.resume,
                append: args.append,
                safety: Safety {
                    confirmed_hosts: args.confirm_hosts,
                    insecure_tls: args.insecure_tls,
                },
                chunk_size: args.chunk_size,
                keep_indexes: args.keep_indexes,
                progress: !args.no_progress,
                user_password: env.secret("USER_PASSWORD", seeder::generate::LOAD_TEST_PASSWORD)?,
                maintenance_work_mem: args.maintenance_work_mem,
            };
            if args.dry_run {
                println!("dry run: nothing is written");
                println!("{plan}");
                println!("targets:");
                print_targets(&targets);
                seeder::target::check(&targets, &options.safety, true)?;
                println!("safety checks passed");
                return Ok(ExitCode::SUCCESS);
            }
            let report = seeder::run(&plan, &targets, &options).await?;
            println!("{report}");
        }
        Command::Verify {
            checksum,
            insecure_tls,
        } => {
            let verification = seeder::verify(
                &targets,
                &VerifyOptions {
                    checksum,
                    safety: Safety {
                        confirmed_hosts: Vec::new(),
                        insecure_tls,
                    },
                },
            )
            .await?;
            println!("{verification}");
            if !verification.passed() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Reset {
            confirm_hosts,
            insecure_tls,
        } => {
            seeder::reset(
                &targets,
                &Safety {
                    confirmed_hosts: confirm_hosts,
                    insecure_tls,
                },
            )
            .await?;
            println!("reset: the seeded tables are empty");
        }
        Command::Bench {
            database_url,
            scale,
            profile,
            jobs,
            pgbench,
            confirm_hosts,
        } => {
            let admin = Target::from_url(Service::Identity, &database_url)
                .context("SEEDER_BENCH_DATABASE_URL")?;
            let report = seeder::bench::bench(&BenchOptions {
                admin,
                scale,
                profile,
                jobs,
                pgbench,
                safety: Safety {
                    confirmed_hosts: confirm_hosts,
                    insecure_tls: false,
                },
            })
            .await?;
            println!("{}", report.seeder);
            println!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("seeder: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn explicit_counts_override_the_profile() {
        let cli = Cli::parse_from([
            "seeder",
            "run",
            "--profile",
            "large",
            "--users",
            "10",
            "--seed",
            "5",
        ]);
        let Command::Run(args) = cli.command else {
            panic!("not a run");
        };
        let plan = args.plan.plan();
        assert_eq!((plan.seed, plan.users), (5, 10));
        assert_eq!(plan.products, Plan::profile(Profile::Large, 5).products);
    }

    #[test]
    fn secrets_are_not_taken_from_arguments() {
        assert!(Cli::try_parse_from(["seeder", "run", "--database-url", "postgres://x"]).is_err());
    }
}
