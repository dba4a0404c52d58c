//! moto (the AWS emulator) and the resources `template.yaml` would create, made locally.

use rappel::aws::SdkConfig;
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::{Child, Command};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Names of the local resources (the same roles as the template's).
pub const TABLE_NAME: &str = "rappel";
pub const NUMBER_KEY_ALIAS: &str = "alias/rappel-number";
pub const HASH_KEY_ALIAS: &str = "alias/rappel-caller-hash";
pub const SECRETS_KEY_ALIAS: &str = "alias/rappel-webhook-secrets";
pub const EVENT_BUS_NAME: &str = "rappel";

/// Start moto on `port` unless one already answers there. The child is killed when dropped.
pub async fn start_moto(port: u16) -> Result<Option<Child>, BoxError> {
    let url = format!("http://127.0.0.1:{port}/moto-api/");
    if reachable(port).await {
        // A local stack starts empty, as a fresh deployment would.
        tracing::info!(
            port,
            "reusing the moto server already listening (reset to empty)"
        );
        reset_moto(port).await?;
        return Ok(None);
    }
    let program = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/moto_server"));
    if !program.exists() && std::env::var_os("MOTO_SERVER").is_none() {
        return Err(format!(
            "{} not found: run `make venv` (or set MOTO_SERVER)",
            program.display()
        )
        .into());
    }
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    for _ in 0..150 {
        if reachable(port).await {
            return Ok(Some(child));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("moto did not answer on {url} within 15 s").into())
}

/// `POST /moto-api/reset`: drop every resource of a moto server we did not start.
async fn reset_moto(port: u16) -> Result<(), BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    if !answer.starts_with(b"HTTP/1.1 200") && !answer.starts_with(b"HTTP/1.0 200") {
        return Err(format!("the server on port {port} is not moto (reset refused)").into());
    }
    Ok(())
}

async fn reachable(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// Create the table, the two KMS keys and the bus of the local stack (what exists is kept).
pub async fn provision(config: &SdkConfig) -> Result<(), BoxError> {
    let names = rappel::aws::provision::Names {
        table: TABLE_NAME.into(),
        number_key_alias: NUMBER_KEY_ALIAS.into(),
        secrets_key_alias: SECRETS_KEY_ALIAS.into(),
        hash_key_alias: HASH_KEY_ALIAS.into(),
        event_bus: EVENT_BUS_NAME.into(),
    };
    rappel::aws::provision::provision(config, &names).await
}

/// Start the fault-injecting proxy (`infra/local/faults.py`, run by the venv's Python) on
/// `port` in front of moto on `moto_port`, with `spec` (`RAPPEL_FAULTS`). The child is killed
/// when dropped.
pub async fn start_faults_proxy(port: u16, moto_port: u16, spec: &str) -> Result<Child, BoxError> {
    let python = std::env::var_os("RAPPEL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/python"));
    let child = Command::new(&python)
        .args([
            "infra/local/faults.py",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            &format!("http://127.0.0.1:{moto_port}"),
            "--spec",
            spec,
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the fault proxy with {}: {e}",
                python.display()
            )
        })?;
    for _ in 0..100 {
        if reachable(port).await {
            tracing::warn!(
                port,
                spec,
                "fault injection on: the handlers' AWS calls go through the proxy"
            );
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the fault proxy did not listen on {port} within 10 s").into())
}

/// The SDK's standard retries (3 attempts, the same errors retried) with a local backoff of
/// milliseconds instead of seconds: under injected faults the local stack keeps AWS's
/// behaviour without waiting for it.
pub fn fast_retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50))
}
