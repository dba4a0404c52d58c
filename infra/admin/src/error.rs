//! Why a command failed, and the exit code that says so.

use crate::cli::{EXIT_ATTENTION, EXIT_AWS, EXIT_INVALID, EXIT_NOT_FOUND};
use rappel::ports::PortError;
use std::fmt;

/// A failed command. Messages name what was wrong and never contain a secret or a clear
/// phone number.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Exit 1.
    #[error("{0}")]
    NotFound(String),
    /// Exit 2.
    #[error("{0}")]
    Invalid(String),
    /// Exit 4: `stuck` listed something.
    #[error("{0}")]
    Attention(String),
    /// Exit 3. Shown shortened, with a hint; `RUST_LOG=debug` logs the SDK's full error.
    #[error("AWS error: {}", AwsSummary(.0))]
    Aws(#[from] PortError),
}

impl AdminError {
    /// The process exit code documented in `--help`.
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::NotFound(_) => EXIT_NOT_FOUND,
            AdminError::Invalid(_) => EXIT_INVALID,
            AdminError::Aws(_) => EXIT_AWS,
            AdminError::Attention(_) => EXIT_ATTENTION,
        }
    }
}

/// Markers after which the SDK's error text is a debug dump of the error and raw response.
const SDK_DUMPS: [&str; 5] = [
    " (ServiceError(",
    " (DispatchFailure(",
    " (TimeoutError(",
    " (ResponseError(",
    " (ConstructionFailure(",
];

/// An adapter error as one readable line: `service: message`, without the SDK's debug dump,
/// followed by what to check for the usual causes.
struct AwsSummary<'a>(&'a PortError);

impl fmt::Display for AwsSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PortError {
            service, message, ..
        } = self.0;
        let cut = SDK_DUMPS
            .iter()
            .filter_map(|marker| message.find(marker))
            .min()
            .unwrap_or(message.len());
        write!(f, "{service}: {}", &message[..cut])?;
        let hint = if message.contains("Connection refused") || message.contains("dns error") {
            Some(
                "is the endpoint reachable? (with --local: is the local stack running on MOTO_PORT?)",
            )
        } else if message.contains("credentials") || message.contains("ExpiredToken") {
            Some("configure AWS credentials (AWS_PROFILE, aws sso login...) or use --local")
        } else if *service == "dynamodb" && message.contains("ResourceNotFoundException") {
            Some("check the table name (--table / TABLE_NAME) and the region (AWS_REGION)")
        } else if *service == "kms" && message.contains("NotFoundException") {
            Some("check the key (--hash-key-id / HASH_KEY_ID) and the region (AWS_REGION)")
        } else if message.contains("AccessDenied") {
            Some("your AWS identity lacks a permission for this command")
        } else {
            None
        };
        if let Some(hint) = hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_errors_are_one_line_with_a_hint_and_exit_3() {
        let err = AdminError::from(PortError::new(
            "dynamodb",
            "service error: ResourceNotFoundException: Requested resource not found \
             (ServiceError(ServiceError { raw: Response { headers: {} } }))",
        ));
        assert_eq!(err.exit_code(), 3);
        assert_eq!(
            err.to_string(),
            "AWS error: dynamodb: service error: ResourceNotFoundException: Requested resource \
             not found\nhint: check the table name (--table / TABLE_NAME) and the region (AWS_REGION)"
        );
        let refused = AdminError::from(PortError::new(
            "kms",
            "dispatch failure: io error: tcp connect error: Connection refused (os error 111) \
             (DispatchFailure(DispatchFailure { .. }))",
        ));
        let text = refused.to_string();
        assert!(
            text.starts_with("AWS error: kms: dispatch failure"),
            "{text}"
        );
        assert!(!text.contains("DispatchFailure("), "{text}");
        assert!(text.contains("MOTO_PORT"), "{text}");
        let plain = AdminError::from(PortError::new("kms", "GenerateMac returned no MAC"));
        assert_eq!(
            plain.to_string(),
            "AWS error: kms: GenerateMac returned no MAC"
        );
    }

    #[test]
    fn exit_codes_follow_help() {
        assert_eq!(AdminError::NotFound("x".into()).exit_code(), 1);
        assert_eq!(AdminError::Invalid("x".into()).exit_code(), 2);
        assert_eq!(AdminError::Attention("x".into()).exit_code(), 4);
    }
}
