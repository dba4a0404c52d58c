//! AWS adapters: the DynamoDB table, KMS, SNS and EventBridge behind the [`crate::ports`].
//!
//! Clients are built once per cold start from [`aws_config::load_defaults`]; the same code
//! reaches the local emulator when `AWS_ENDPOINT_URL` is set.

mod kms;
mod messaging;
pub mod provision;
mod table;

pub use kms::Kms;
pub use messaging::{EventBus, Sns};
pub use table::{Cancelled, Finish, ScheduleError, Table};

use crate::ports::PortError;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_types::error::display::DisplayErrorContext;

/// Settings every function reads from its environment (set by `template.yaml`, or by the
/// local runner).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TABLE_NAME`.
    pub table_name: String,
    /// `NUMBER_KEY_ID`: symmetric KMS key for envelope encryption of numbers.
    pub number_key_id: String,
    /// `HASH_KEY_ID`: KMS HMAC key for caller hashes.
    pub hash_key_id: String,
    /// `SECRETS_KEY_ID`: symmetric KMS key sealing webhook secrets (intake opens them).
    pub secrets_key_id: String,
    /// `EVENT_BUS_NAME`.
    pub event_bus_name: String,
    /// `PUBLIC_BASE_URL` (else `API_DEFAULT_URL`): the public URL providers call and SMS links
    /// point to, without trailing slash.
    pub public_base_url: String,
    /// `DUE_SHARDS`: partitions of the due queue (default 4).
    pub due_shards: u32,
}

/// A missing or invalid environment variable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("environment variable {0} is missing or invalid")]
pub struct SettingsError(pub &'static str);

impl Settings {
    /// Read the settings from the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        let var = |name: &'static str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let required = |name: &'static str| var(name).ok_or(SettingsError(name));
        let public_base_url = var("PUBLIC_BASE_URL")
            .or_else(|| var("API_DEFAULT_URL"))
            .ok_or(SettingsError("PUBLIC_BASE_URL"))?
            .trim_end_matches('/')
            .to_string();
        let due_shards = match var("DUE_SHARDS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or(SettingsError("DUE_SHARDS"))?,
            None => 4,
        };
        Ok(Settings {
            table_name: required("TABLE_NAME")?,
            number_key_id: required("NUMBER_KEY_ID")?,
            hash_key_id: required("HASH_KEY_ID")?,
            secrets_key_id: required("SECRETS_KEY_ID")?,
            event_bus_name: required("EVENT_BUS_NAME")?,
            public_base_url,
            due_shards,
        })
    }
}

/// Load the shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) once.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// Turn an SDK error into a [`PortError`]. SDK errors carry service codes and messages,
/// never request parameters, so no number can leak through them.
pub(crate) fn port_error<E: std::error::Error>(service: &'static str, err: E) -> PortError {
    PortError::new(service, DisplayErrorContext(&err).to_string())
}

/// Install the `tracing` subscriber once at cold start: JSON lines on Lambda (CloudWatch
/// parses them), human-readable text elsewhere; level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
}

/// Clients for every adapter, from one SDK configuration.
pub fn table(config: &SdkConfig, settings: &Settings) -> Table {
    Table::new(aws_sdk_dynamodb::Client::new(config), &settings.table_name)
}

/// KMS adapter with the number and hash keys of `settings`.
pub fn kms(config: &SdkConfig, settings: &Settings) -> Kms {
    Kms::new(
        aws_sdk_kms::Client::new(config),
        &settings.number_key_id,
        &settings.hash_key_id,
    )
    .with_secrets_key(&settings.secrets_key_id)
}

/// SNS SMS adapter.
pub fn sns(config: &SdkConfig) -> Sns {
    Sns::new(aws_sdk_sns::Client::new(config))
}

/// EventBridge adapter for the Rappel bus.
pub fn event_bus(config: &SdkConfig, settings: &Settings) -> EventBus {
    EventBus::new(
        aws_sdk_eventbridge::Client::new(config),
        &settings.event_bus_name,
    )
}
