//! `order`: runs the service; `order --migrate-only` only runs the migrations.

use clap::Parser;
use order::{config::Config, startup::App};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "The Ironvessel order service (configured by ORDER_* env vars)")]
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
    let _telemetry =
        platform::telemetry::init("order", &platform::telemetry::TelemetryConfig::from_env()?)?;
    let config = Config::from_env()?;
    if cli.migrate_only {
        let pool = platform::postgres::pool(&config.database)?;
        order::postgres::migrate(&pool).await?;
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
