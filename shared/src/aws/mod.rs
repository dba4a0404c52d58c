//! AWS adapters: the DynamoDB table, KMS, SNS and EventBridge behind the [`crate::ports`].
//!
//! Clients are built once per cold start from [`sdk_config`]: region, credentials and endpoint
//! from the variables Lambda sets, without the SDK's whole provider chain (`aws-config`, which
//! brings STS, profile files and IMDS: 0.3 MB of code a function never runs on Lambda). The
//! same code reaches the local emulator when `AWS_ENDPOINT_URL` is set.

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
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
pub use aws_types::SdkConfig;
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

/// The shared SDK configuration of a Lambda function, built once per cold start from its
/// environment (no file, no network):
///
/// * region: `AWS_REGION`, else `AWS_DEFAULT_REGION`;
/// * credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, which
///   Lambda sets from the function's role for the life of the execution environment;
/// * endpoint: `AWS_ENDPOINT_URL` when set (the local stack, moto);
/// * [`timeouts`] on every operation, the SDK's standard retries, the
///   [`lambda_https_client`] (Amazon Trust Services roots, and `AWS_CA_BUNDLE`).
///
/// Without those credential variables no request can be signed: every call then fails with
/// the SDK's "no credentials" error, named in the function's log. Operators' tools
/// (`rappel-admin`) use the SDK's full provider chain (profiles, SSO) instead.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok())
}

/// [`sdk_config`] from the variables `var` returns (empty means unset).
pub fn sdk_config_from(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_sdk_dynamodb::config::Region;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(lambda_https_client(var("AWS_CA_BUNDLE").as_deref()))
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .region(
            var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .map(Region::new),
        );
    if let Some(sleep) = aws_smithy_async::rt::sleep::default_async_sleep() {
        builder = builder.sleep_impl(sleep);
    }
    if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        builder = builder.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            id,
            secret,
            var("AWS_SESSION_TOKEN"),
            None,
            "Environment",
        )));
    }
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// Longest a cold start waits for [`warm_up`] (seconds).
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(2);

/// One warm-up call: the service's name and the call ([`Table::warm_up`], [`Kms::warm_up`],
/// [`Sns::warm_up`], [`EventBus::warm_up`]).
pub type WarmUp<'a> = (
    &'static str,
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), PortError>> + Send + 'a>>,
);

/// Open, during the Lambda init phase, the connection (DNS, TCP, TLS) to each service the
/// first invocation calls, so that it does not pay one handshake per service on the request
/// path: one cheap read per service, all at once, at most [`WARM_UP_TIMEOUT`]. The SDK keeps
/// the connections in its pool for the invocations that follow (an idle one is closed after
/// 90 s; the next call opens it again, as without warm-up).
///
/// A failure (a missing permission, a slow service) is logged as a warning and changes
/// nothing else: the invocation opens its connection itself. `AWS_WARM_UP=off` skips it (the
/// benchmark measures both). Returns how many calls succeeded.
pub async fn warm_up(calls: Vec<WarmUp<'_>>) -> usize {
    if std::env::var("AWS_WARM_UP").is_ok_and(|v| v == "off") {
        return 0;
    }
    let started = std::time::Instant::now();
    let services: Vec<&'static str> = calls.iter().map(|(name, _)| *name).collect();
    let all = futures_util::future::join_all(calls.into_iter().map(|(_, call)| call));
    let results = match tokio::time::timeout(WARM_UP_TIMEOUT, all).await {
        Ok(results) => results,
        Err(_) => {
            tracing::warn!(
                ?services,
                "warm-up took longer than 2 s: left to the first invocation"
            );
            return 0;
        }
    };
    let mut ok = 0;
    for (service, result) in services.iter().zip(results) {
        match result {
            Ok(()) => ok += 1,
            Err(err) => {
                tracing::warn!(service, error = %err, "warm-up call failed: the first invocation opens this connection")
            }
        }
    }
    tracing::debug!(
        ok,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "connections warmed up"
    );
    ok
}

/// The HTTP client of the operators' tools: hyper with rustls on *ring* (HTTPS, and plain
/// HTTP for a local endpoint), trusting the machine's certificate store (a company proxy's
/// CA included). The SDK's default client uses aws-lc-rs, which adds about 1 MB to each
/// function's zip for nothing Rappel needs (`make bench`, README "Performance").
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    https_client_trusting(aws_smithy_http_client::tls::TrustStore::default())
}

/// The root certificates of Amazon Trust Services (Amazon Root CA 1 to 4, and Starfield
/// Services Root Certificate Authority - G2, which cross-signs them), the CAs of every AWS
/// service endpoint (<https://www.amazontrust.com/repository/>), as Mozilla's store ships them
/// (Debian `ca-certificates` 20230311). SHA-256 of Amazon Root CA 1:
/// `8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e`.
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services.pem");

/// The HTTP client of a Lambda function ([`sdk_config`]): [`https_client`]'s stack, trusting
/// only [`AMAZON_TRUST_SERVICES_ROOTS`], plus the certificates of the PEM file `AWS_CA_BUNDLE`
/// names when set (an HTTPS emulator, a TLS-inspecting egress proxy). A function talks to AWS
/// endpoints only: a smaller trust store than the operating system's ~140 roots, and 5
/// certificates to parse at cold start instead of the system bundle and every file of its
/// directory (6.0 → 2.4 ms of init, `make bench`).
///
/// A bundle that cannot be read, holds no certificate, or holds one that is not PEM or cannot
/// be a trust anchor is logged (`warn`) and skipped whole: the function still starts, trusting
/// Amazon Trust Services only. (Handed to the SDK unchecked, it would panic the cold start.)
pub fn lambda_https_client(
    ca_bundle: Option<&str>,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::TrustStore;
    let mut trust =
        TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
    if let Some(path) = ca_bundle {
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| {
                trust_anchors_in(&pem)
                    .map(|count| (pem, count))
                    .map_err(str::to_string)
            }) {
            Ok((pem, count)) => {
                tracing::info!(
                    count,
                    "AWS_CA_BUNDLE: certificates trusted besides Amazon Trust Services"
                );
                trust.add_pem_certificate(pem);
            }
            Err(err) => {
                tracing::warn!(error = %err, "AWS_CA_BUNDLE skipped: trusting Amazon Trust Services only")
            }
        }
    }
    https_client_trusting(trust)
}

/// How many trust anchors PEM text `pem` holds, checked as the SDK's client will load them.
/// Errors: not PEM, no certificate, or a certificate that cannot be a trust anchor.
fn trust_anchors_in(pem: &[u8]) -> Result<usize, &'static str> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "not a PEM certificate bundle")?;
    if certs.is_empty() {
        return Err("no PEM certificate in the bundle");
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|_| "a certificate in the bundle cannot be a trust anchor")?;
    }
    Ok(certs.len())
}

fn https_client_trusting(
    trust: aws_smithy_http_client::tls::TrustStore,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context without extra server names always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(context)
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
/// parses them), human-readable text elsewhere; levels from `RUST_LOG` as a list of
/// `[target=]level` (`info`, `warn,rappel=debug`; default `info`). An unreadable `RUST_LOG`
/// falls back to `info`. (Target and level directives only: `Targets`, without the regular
/// expressions of `EnvFilter`, which cost 0.2 MB of code per function.)
pub fn init_logging() {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt().with_target(false);
    use tracing_subscriber::layer::SubscriberExt;
    // Already installed (a test, the local stack): keep the first.
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        let fmt = builder.json().with_current_span(false).without_time();
        tracing::subscriber::set_global_default(fmt.finish().with(filter))
    } else {
        let fmt = builder.with_writer(std::io::stderr);
        tracing::subscriber::set_global_default(fmt.finish().with(filter))
    };
}

/// The levels `RUST_LOG` asks for (`None`, empty or unreadable: `info`).
pub fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    rust_log
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
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
    fn rust_log_sets_levels_per_target_and_defaults_to_info() {
        use tracing::Level;
        let info = log_filter(None);
        assert!(info.would_enable("rappel", &Level::INFO));
        assert!(!info.would_enable("rappel", &Level::DEBUG));
        let custom = log_filter(Some("warn,rappel=debug"));
        assert!(custom.would_enable("rappel::aws", &Level::DEBUG));
        assert!(!custom.would_enable("hyper", &Level::INFO));
        assert!(custom.would_enable("hyper", &Level::WARN));
        // Unreadable: the default, never nothing.
        assert!(log_filter(Some("rappel=loud")).would_enable("rappel", &Level::INFO));
        assert!(log_filter(Some(" ")).would_enable("x", &Level::INFO));
    }

    #[test]
    fn lambda_configuration_comes_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let config = sdk_config_from(env(&[
            ("AWS_REGION", "eu-west-3"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-3"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.credentials_provider().is_some());
        assert!(
            config.sleep_impl().is_some(),
            "retries and timeouts need a sleep"
        );
        assert_eq!(config.timeout_config(), Some(&timeouts()));
        let fallback = sdk_config_from(env(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", ""),
        ]));
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(fallback.credentials_provider().is_none());
        assert_eq!(fallback.endpoint_url(), None);
    }

    /// The roots a function trusts are the five of Amazon Trust Services, byte for byte as
    /// the system's Mozilla store has them (when this machine has it).
    #[test]
    fn functions_trust_amazon_trust_services_roots() {
        use base64::Engine;
        let blocks: Vec<&str> = AMAZON_TRUST_SERVICES_ROOTS
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|b| b.split("-----END CERTIFICATE-----").next().unwrap())
            .collect();
        assert_eq!(blocks.len(), 5);
        let ders: Vec<Vec<u8>> = blocks
            .iter()
            .map(|b| {
                let b64: String = b.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64 DER")
            })
            .collect();
        use sha2::Digest;
        let root_ca_1 = hex::encode(sha2::Sha256::digest(&ders[0]));
        assert_eq!(
            root_ca_1,
            "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"
        );
        let system = std::path::Path::new("/usr/share/ca-certificates/mozilla");
        if system.is_dir() {
            for name in [
                "Amazon_Root_CA_1",
                "Amazon_Root_CA_2",
                "Amazon_Root_CA_3",
                "Amazon_Root_CA_4",
                "Starfield_Services_Root_Certificate_Authority_-_G2",
            ] {
                let pem = std::fs::read_to_string(system.join(format!("{name}.crt"))).unwrap();
                assert!(AMAZON_TRUST_SERVICES_ROOTS.contains(pem.trim()), "{name}");
            }
        }
        // The roots themselves pass the check an extra bundle gets.
        assert_eq!(
            trust_anchors_in(AMAZON_TRUST_SERVICES_ROOTS.as_bytes()),
            Ok(5)
        );
        assert_eq!(
            trust_anchors_in(b"not pem at all"),
            Err("no PEM certificate in the bundle")
        );
        let broken = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            trust_anchors_in(broken.as_bytes()),
            Err("not a PEM certificate bundle")
        );
        let garbage_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            trust_anchors_in(garbage_der.as_bytes()),
            Err("a certificate in the bundle cannot be a trust anchor")
        );
    }

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
