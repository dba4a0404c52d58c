//! Why a command failed, and the exit code that says so.

use crate::cli::{EXIT_AWS, EXIT_INVALID, EXIT_NOT_FOUND};
use rappel::ports::PortError;

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
    /// Exit 3.
    #[error("AWS error: {0}")]
    Aws(#[from] PortError),
}

impl AdminError {
    /// The process exit code documented in `--help`.
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::NotFound(_) => EXIT_NOT_FOUND,
            AdminError::Invalid(_) => EXIT_INVALID,
            AdminError::Aws(_) => EXIT_AWS,
        }
    }
}
