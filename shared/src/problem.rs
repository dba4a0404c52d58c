//! RFC 9457 problem details (`application/problem+json`) for HTTP errors.

use serde::Serialize;

/// Media type of a problem document.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem document. `type` is a stable URN naming the kind of error (documented in the
/// README); `detail` is for humans and never contains a phone number or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    /// A problem of kind `urn:rappel:problem:{slug}`.
    pub fn new(status: u16, slug: &str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:rappel:problem:{slug}"),
            title,
            status,
            detail: detail.into(),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a problem always serializes")
    }
}
