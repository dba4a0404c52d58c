//! The funnel, per account: SMS sent, link opened, slot booked, rescheduled, cancelled, opted
//! out, and calls skipped by reason, as CloudWatch metrics in the embedded metric format (EMF):
//! one JSON object per line on standard output, which Lambda's log agent turns into metrics
//! (CloudWatch User Guide, "Embedded metric format specification"). No extra AWS call, no
//! personal data: the dimensions are the account id and, for skips, the reason code.
//!
//! Namespace: `METRICS_NAMESPACE` (template.yaml sets `Rappel/{stack}`), default `Rappel`.
//! The dashboard in template.yaml reads these metrics; `rappel-admin report` computes the same
//! funnel from the table for any period, on AWS and on the local stack.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// A step of the funnel: the metric's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SmsSent,
    LinkOpened,
    SlotBooked,
    Rescheduled,
    Cancelled,
    OptedOut,
    /// A call that got no SMS; the reason is a dimension.
    Skipped,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::SmsSent => "SmsSent",
            Step::LinkOpened => "LinkOpened",
            Step::SlotBooked => "SlotBooked",
            Step::Rescheduled => "Rescheduled",
            Step::Cancelled => "Cancelled",
            Step::OptedOut => "OptedOut",
            Step::Skipped => "Skipped",
        }
    }
}

/// The EMF document counting one `step` for `account_id` at `at` (`reason` for skips).
pub fn document(
    namespace: &str,
    account_id: &str,
    step: Step,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let mut dimensions = vec![vec!["account_id"]];
    if reason.is_some() {
        dimensions.push(vec!["account_id", "reason"]);
    }
    let mut doc = json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": [{"Name": step.as_str(), "Unit": "Count"}],
            }],
        },
        "account_id": account_id,
        step.as_str(): 1,
    });
    if let Some(reason) = reason {
        doc["reason"] = json!(reason);
    }
    doc
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turn the metrics on for this process: each function's `main` and the local stack do.
/// Off by default, so that a tool reusing a handler (`rappel-admin redecide`) keeps its
/// standard output for its own answer.
pub fn enable() {
    ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Count one `step` for `account_id`: one EMF line on standard output (once [`enable`]d).
pub fn count(account_id: &str, step: Step, reason: Option<&str>, at: DateTime<Utc>) {
    if !ENABLED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // Read once per execution environment, not per count.
    static NAMESPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let namespace = NAMESPACE
        .get_or_init(|| std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "Rappel".into()));
    println!("{}", document(namespace, account_id, step, reason, at));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_counted_per_account_and_per_reason_in_emf() {
        let at: DateTime<Utc> = "2026-11-30T09:00:00Z".parse().unwrap();
        let doc = document("Rappel/prod", "demo", Step::Skipped, Some("not_mobile"), at);
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_796_029_200_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Rappel/prod",
                        "Dimensions": [["account_id"], ["account_id", "reason"]],
                        "Metrics": [{"Name": "Skipped", "Unit": "Count"}],
                    }],
                },
                "account_id": "demo",
                "reason": "not_mobile",
                "Skipped": 1,
            })
        );
        let sent = document("Rappel", "demo", Step::SmsSent, None, at);
        assert_eq!(
            sent["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["account_id"]])
        );
        assert_eq!(sent["SmsSent"], 1);
    }
}
