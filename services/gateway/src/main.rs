//! `gateway`: runs the shop's entry point (configured by `GATEWAY_*` env vars).

use clap::Parser;
use gateway::{config::Config, startup::App};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(about = "The Ironvessel gateway (configured by GATEWAY_* env vars; see config.rs)")]
struct Cli {}

#[global_allocator]
static ALLOCATOR: platform::Allocator = platform::Allocator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Cli::parse();
    let _telemetry = platform::telemetry::init(
        "gateway",
        &platform::telemetry::TelemetryConfig::from_env()?,
    )?;
    let config = Config::from_env()?;
    let app = App::build(config).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        platform::http::server::shutdown_signal().await;
        signal.cancel();
    });
    app.run(shutdown).await
}
