//! `identity`: runs the service; `--migrate-only` runs the migrations, `--rotate-key`
//! makes a new signing key current; both then exit.

use clap::Parser;
use identity::{config::Config, startup::App};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "The Ironvessel identity provider (configured by IDENTITY_* env vars)")]
struct Cli {
    /// Run the database migrations and exit.
    #[arg(long)]
    migrate_only: bool,
    /// Make a new signing key current (the previous one stays published) and exit.
    #[arg(long, conflicts_with = "migrate_only")]
    rotate_key: bool,
}

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = platform::telemetry::init(
        "identity",
        &platform::telemetry::TelemetryConfig::from_env()?,
    )?;
    let config = Config::from_env()?;
    if cli.migrate_only {
        let pool = platform::postgres::pool(&config.database)?;
        identity::postgres::migrate(&pool).await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    if cli.rotate_key {
        // The rotation logs the new kid.
        identity::startup::rotate_signing_key(&config).await?;
        return Ok(());
    }
    let app = App::build(config).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        platform::http::server::shutdown_signal().await;
        signal.cancel();
    });
    app.run(shutdown).await
}
