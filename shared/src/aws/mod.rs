//! AWS adapters: the DynamoDB table, KMS, SNS and EventBridge behind the [`crate::ports`].
//!
//! Clients are built once per cold start from [`aws_config::load_defaults`]; the same code
//! reaches the local emulator when `AWS_ENDPOINT_URL` is set.

mod kms;
mod messaging;
mod privacy;
pub mod provision;
mod table;

pub use crate::store::{BookOutcome, Cancelled, Finish, ScheduleError};
pub use kms::Kms;
pub use messaging::{EventBus, Sns};
pub use privacy::{SubjectData, SubjectErased};
pub use table::{Table, account_cache_from_env};

use crate::ports::{Applied, PortError};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use std::time::Duration;

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

/// Timeouts of every AWS operation (case "one hung SDK call uses up the whole invocation"):
/// connecting 2 s, one attempt 5 s, the whole operation with the SDK's retries 12 s. Each
/// can be overridden in seconds by `AWS_CONNECT_TIMEOUT_SECONDS`,
/// `AWS_ATTEMPT_TIMEOUT_SECONDS`, `AWS_OPERATION_TIMEOUT_SECONDS`. The sender's sweep keeps a
/// margin larger than one operation before its Lambda deadline.
pub fn timeouts() -> TimeoutConfig {
    let secs = |name: &str, default: f64| {
        let value = std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0 && *v < 900.0)
            .unwrap_or(default);
        Duration::from_secs_f64(value)
    };
    TimeoutConfig::builder()
        .connect_timeout(secs("AWS_CONNECT_TIMEOUT_SECONDS", 2.0))
        .operation_attempt_timeout(secs("AWS_ATTEMPT_TIMEOUT_SECONDS", 5.0))
        .operation_timeout(secs("AWS_OPERATION_TIMEOUT_SECONDS", 12.0))
        .build()
}

/// Load the shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) once, with
/// [`timeouts`] on every operation and the [`https_client`].
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts())
        .load()
        .await
}

/// The HTTP client of every AWS SDK client: hyper with rustls on *ring* (HTTPS, and plain
/// HTTP for a local endpoint). The SDK's default client uses aws-lc-rs, which adds about
/// 1 MB to each function's zip for nothing Rappel needs (`make bench`, README "Performance").
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Turn a non-SDK error (a request that could not be built) into a [`PortError`]: nothing
/// was sent. The text is scrubbed of anything number-like.
pub(crate) fn port_error<E: std::error::Error>(service: &'static str, err: E) -> PortError {
    PortError::new(service, DisplayErrorContext(&err).to_string()).applied(Applied::Refused)
}

/// Service error codes that mean "refused before any work, try again later".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "Throttled",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "TransactionConflictException",
    "KMSInvalidStateException",
];

/// Turn an SDK error into a [`PortError`], saying whether the call may have applied
/// ([`Applied`]): a throttle is `No`; another 4xx service error is `Refused`; a timeout, a
/// dispatch failure (connection reset, refused), an unreadable answer or a 5xx is `Maybe`.
/// The text is scrubbed of anything number-like (SNS puts the number in some errors).
pub(crate) fn sdk_error<E>(service: &'static str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let applied = match &err {
        SdkError::ConstructionFailure(_) => Applied::Refused,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Applied::Maybe
        }
        SdkError::ServiceError(service_err) => {
            let code = service_err.err().code().unwrap_or_default();
            let status = service_err.raw().status().as_u16();
            if code == "TransactionInProgressException" {
                // The same request's transaction is still running: it may commit.
                Applied::Maybe
            } else if RETRYABLE_CODES.contains(&code) || status == 429 {
                Applied::No
            } else if service_err.raw().status().as_u16() >= 500 {
                Applied::Maybe
            } else {
                Applied::Refused
            }
        }
        _ => Applied::Maybe,
    };
    PortError::new(service, DisplayErrorContext(&err).to_string()).applied(applied)
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
    let table = Table::new(aws_sdk_dynamodb::Client::new(config), &settings.table_name);
    match table::account_cache_from_env() {
        Some(ttl) => table.with_account_cache(ttl),
        None => table,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::{Credentials, Region};

    #[test]
    fn every_operation_has_timeouts() {
        let t = timeouts();
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(12)));
    }

    /// Case "no operation timeout": a service that accepts the connection and never answers.
    /// The call gives up by itself (the outer 30 s bound only keeps a regression from hanging
    /// the suite), and says the request may have applied.
    #[tokio::test]
    async fn a_hung_call_gives_up_and_may_have_applied() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        });
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(Duration::from_millis(300))
            .operation_timeout(Duration::from_secs(1))
            .build();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-3"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(format!("http://{addr}"))
            .timeout_config(timeouts)
            .build();
        let table = Table::new(aws_sdk_dynamodb::Client::from_conf(config), "rappel");
        let err = tokio::time::timeout(Duration::from_secs(30), table.get_account("acme"))
            .await
            .expect("the SDK call gave up by itself")
            .unwrap_err();
        assert_eq!(err.applied, Applied::Maybe, "{err}");
        assert_eq!(err.service, "dynamodb");
    }
}
