//! The crash-point matrix: one day of an account's calls through intake, eligibility and the
//! sender, run once cleanly to number every port call, then once per call k and per way of
//! failing it (before it applies, after it applied, crash after it applied), each time letting
//! what AWS would do next run (the provider's retries, Lambda's stream retries and DLQ, the
//! `MessageDue` rule's retries, the one-minute sweep, the five-minute re-decide schedule).
//! After each run the three promises must hold, every call handed to us must be stored with a
//! final outcome, and no caller may be texted twice.

use chrono::Duration;
use rappel::fake::{FaultMode, capture_logs};
use rappel_promises::{World, account, at, call};
use serde_json::json;
use std::collections::BTreeMap;

const A: &str = "+33600000001";
const B: &str = "+33600000002";
const C: &str = "+33750000003";
const D: &str = "+262692000004";
const NUMBERS: &[&str] = &[A, B, C, D];
const CALL_IDS: &[&str] = &["a1", "a2", "b-answered", "c1", "a3-night", "d-reunion"];

/// The scenario: returns the world after everything settled.
async fn scenario(plan: Option<(usize, FaultMode)>) -> (World, Vec<String>) {
    let (logs, _guard) = capture_logs();
    // Friday 27 November 2026, 11:00 Paris.
    // One shard: the matrix attacks every call, and idle shards only add empty queries.
    let mut w = World::with_shards(at("2026-11-27T10:00:00Z"), account(json!({})), 1);
    if let Some((k, mode)) = plan {
        w.faults.plan(k, mode);
    }
    let t = w.now();
    w.webhook(&call("a1", "no_answer", "inbound", A, t)).await;
    w.drain().await;
    w.webhook(&call("a2", "busy", "inbound", A, t + Duration::minutes(2)))
        .await;
    w.webhook(&call("b-answered", "answered", "inbound", B, t))
        .await;
    w.webhook(&call("c1", "no_answer", "inbound", C, t)).await;
    // Past the in-flight timeout and a re-decide run.
    w.run_until(at("2026-11-27T10:16:00Z")).await;
    // Evening: A again after 20:00 (deferred to Saturday 08:00, a new send day), and a
    // Réunion mobile at 23:30 its time (deferred to 08:00 Réunion).
    w.jump_to(at("2026-11-27T19:30:00Z")).await;
    w.webhook(&call("a3-night", "no_answer", "inbound", A, w.now()))
        .await;
    w.webhook(&call("d-reunion", "no_answer", "inbound", D, w.now()))
        .await;
    w.run_until(at("2026-11-27T19:46:00Z")).await;
    w.jump_to(at("2026-11-28T03:59:00Z")).await;
    w.run_until(at("2026-11-28T04:07:00Z")).await;
    w.jump_to(at("2026-11-28T06:59:00Z")).await;
    w.run_until(at("2026-11-28T07:07:00Z")).await;
    let mut violations = w.check(NUMBERS, &logs);
    let calls = w.calls();
    for id in CALL_IDS {
        if !calls.contains_key(*id) {
            violations.push(format!("call {id} lost (never stored)"));
        }
    }
    (w, violations)
}

#[tokio::test]
async fn every_port_call_failed_every_way_keeps_the_promises() {
    let (clean, violations) = scenario(None).await;
    assert_eq!(violations, Vec::<String>::new(), "the clean run");
    // The clean run: A twice on Friday (one SMS), A on Saturday, C, D; B answered.
    let outcomes: BTreeMap<String, String> = clean
        .calls()
        .into_iter()
        .map(|(id, c)| {
            (
                id,
                format!("{:?}/{:?}", c.outcome.unwrap(), c.reason.unwrap()),
            )
        })
        .collect();
    assert_eq!(outcomes["a1"], "Sent/InHours");
    assert_eq!(outcomes["a2"], "Skipped/AlreadyTextedToday");
    assert_eq!(outcomes["b-answered"], "Ignored/Answered");
    assert_eq!(outcomes["c1"], "Sent/InHours");
    assert_eq!(outcomes["a3-night"], "Sent/QuietHours");
    assert_eq!(outcomes["d-reunion"], "Sent/QuietHours");
    assert_eq!(clean.sent().len(), 4);

    let points = clean.faults.count();
    let owners = clean.call_owner.clone();
    let mut per_function: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for (i, op) in clean.faults.calls().iter().enumerate() {
        let owner = owners.get(i).copied().unwrap_or("?");
        *per_function
            .entry(owner)
            .or_default()
            .entry(op.clone())
            .or_default() += 1;
    }
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut lost_sms = 0;
    for k in 0..points {
        for mode in FaultMode::ALL {
            runs += 1;
            let (w, violations) = scenario(Some((k, mode))).await;
            let injected = w.faults.injected();
            assert_eq!(injected.len(), 1, "call {k} {mode:?} was injected once");
            lost_sms += 4usize.saturating_sub(w.sent().len());
            if !violations.is_empty() {
                failures.push(format!(
                    "call {k} ({} in {}) {mode:?}: {violations:?}",
                    injected[0].1,
                    owners.get(k).copied().unwrap_or("?")
                ));
            }
        }
    }
    println!(
        "crash-point matrix: {points} port calls x {} modes = {runs} runs; by function: {per_function:?}; \
         SMS not sent because a crash left the message interrupted: {lost_sms}",
        FaultMode::ALL.len()
    );
    for function in ["intake", "eligibility", "sender"] {
        assert!(
            per_function
                .get(function)
                .is_some_and(|ops| !ops.is_empty()),
            "the matrix covers {function}"
        );
    }
    assert_eq!(failures, Vec::<String>::new());
}
