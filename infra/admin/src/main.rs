//! `rappel-admin`: account administration for cloud teams (README, "Account settings").
//! Run `rappel-admin --help`.

mod cli;
mod commands;
mod connect;
mod error;
mod privacy;
mod render;
mod report;
mod why;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();
    match commands::run(cli).await {
        Ok(()) => ExitCode::from(cli::EXIT_OK),
        Err(e) => {
            tracing::debug!(error = ?e, "command failed");
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Human-readable logs on stderr, quiet unless `RUST_LOG` asks (default `warn`).
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
