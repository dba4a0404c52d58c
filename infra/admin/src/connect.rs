//! Reaching the Rappel data: AWS through the standard chain, or the local stack (`--local`).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// moto's port when `MOTO_PORT` is not set (README, "An interactive stack").
pub const DEFAULT_MOTO_PORT: &str = "5055";
/// Region used locally when none is set.
pub const LOCAL_REGION: &str = "eu-west-3";
/// Access key id and secret used locally when none is set (moto accepts any).
pub const LOCAL_CREDENTIAL: &str = "testing";

/// What `--local` changes in the SDK configuration, given the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOverrides {
    /// `http://127.0.0.1:${MOTO_PORT:-5055}`.
    pub endpoint_url: String,
    /// `eu-west-3` unless `AWS_REGION` or `AWS_DEFAULT_REGION` is set.
    pub region: Option<&'static str>,
    /// Dummy credentials unless `AWS_ACCESS_KEY_ID` is set.
    pub dummy_credentials: bool,
}

impl LocalOverrides {
    /// Compute the overrides from an environment lookup (`std::env::var` in production).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> LocalOverrides {
        let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
        let port = var("MOTO_PORT")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| DEFAULT_MOTO_PORT.into());
        LocalOverrides {
            endpoint_url: format!("http://127.0.0.1:{port}"),
            region: (!set("AWS_REGION") && !set("AWS_DEFAULT_REGION")).then_some(LOCAL_REGION),
            dummy_credentials: !set("AWS_ACCESS_KEY_ID"),
        }
    }
}

/// The SDK configuration: the standard chain (which honours `AWS_ENDPOINT_URL`), or with
/// `local`, the local stack's endpoint, region and credentials.
pub async fn sdk_config(local: bool) -> SdkConfig {
    if !local {
        // The standard chain (profiles, SSO, ...), not the functions' environment-only one.
        return aws_config::defaults(BehaviorVersion::latest())
            .http_client(rappel::aws::https_client())
            .timeout_config(rappel::aws::timeouts())
            .load()
            .await;
    }
    let overrides = LocalOverrides::from_env(|name| std::env::var(name).ok());
    tracing::debug!(endpoint = %overrides.endpoint_url, "using the local stack");
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(rappel::aws::https_client())
        .endpoint_url(&overrides.endpoint_url);
    if let Some(region) = overrides.region {
        loader = loader.region(Region::new(region));
    }
    if overrides.dummy_credentials {
        loader = loader.credentials_provider(Credentials::new(
            LOCAL_CREDENTIAL,
            LOCAL_CREDENTIAL,
            None,
            None,
            "rappel-admin-local",
        ));
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn local_defaults_to_moto_on_5055_with_dummy_credentials() {
        assert_eq!(
            LocalOverrides::from_env(env(&[])),
            LocalOverrides {
                endpoint_url: "http://127.0.0.1:5055".into(),
                region: Some("eu-west-3"),
                dummy_credentials: true,
            }
        );
    }

    #[test]
    fn local_keeps_what_the_environment_sets() {
        let o = LocalOverrides::from_env(env(&[
            ("MOTO_PORT", "6000"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ]));
        assert_eq!(o.endpoint_url, "http://127.0.0.1:6000");
        assert_eq!(o.region, None);
        assert!(!o.dummy_credentials);
        let empty = LocalOverrides::from_env(env(&[("MOTO_PORT", ""), ("AWS_REGION", "")]));
        assert_eq!(empty.endpoint_url, "http://127.0.0.1:5055");
        assert_eq!(empty.region, Some("eu-west-3"));
    }
}
