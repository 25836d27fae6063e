//! `inventory`: runs the service; `inventory --migrate-only` only runs the migrations.

use clap::Parser;
use inventory::{config::Config, startup::App};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "The Ironvessel inventory service (configured by INVENTORY_* env vars)")]
struct Cli {
    /// Run the database migrations and exit.
    #[arg(long)]
    migrate_only: bool,
}

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = platform::telemetry::init(
        "inventory",
        &platform::telemetry::TelemetryConfig::from_env()?,
    )?;
    let config = Config::from_env()?;
    if cli.migrate_only {
        let pool = platform::postgres::pool(&config.database)?;
        inventory::postgres::migrate(&pool).await?;
        tracing::info!("migrations applied");
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
