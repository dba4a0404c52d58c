//! inbound-sms through its `handle`, on the `events/` fixtures, with the in-memory fakes: a
//! STOP reply to a short code opts the person out of every account sending from it, and of
//! nothing else; a reply that is not a keyword records nothing; an AWS failure fails the
//! invocation (Lambda retries it) and the retry records the opt-out once.

use inbound_sms::handler::{Deps, handle};
use lambda_runtime::{Context, LambdaEvent};
use rappel::account::Account;
use rappel::fake::{FakeClock, FakeEvents, FakeKeys, FaultMode, Faults, MemoryTable, capture_logs};
use rappel::items::OptOutItem;
use rappel::phone::E164;
use rappel::ports::NumberProtector;
use rappel::store::AccountStore;
use serde_json::{Value, json};

const STOP: &str = include_str!("../../../events/inbound-sms-stop.json");
const OTHER: &str = include_str!("../../../events/inbound-sms-other.json");
/// The number the fixtures reply from.
const PROSPECT: &str = "+33600000101";

type D = Deps<MemoryTable, FakeKeys, FakeEvents, FakeClock>;

fn account(json: Value) -> Account {
    Account::from_json(&json.to_string()).unwrap()
}

/// Two accounts send from 36173, a third from its sender ID.
fn world() -> (D, std::sync::Arc<Faults>) {
    let faults = Faults::new();
    let table = MemoryTable::new(faults.clone());
    for (id, code) in [
        ("plombier", Some("36173")),
        ("serrurier", Some("36173")),
        ("vitrier", None),
    ] {
        let mut a = json!({"account_id": id, "company_name": "Acme"});
        if let Some(code) = code {
            a["short_code"] = json!(code);
        }
        table.put_account(&account(a));
    }
    let deps = Deps {
        table,
        keys: FakeKeys::new(faults.clone()),
        events: FakeEvents::new(faults.clone()),
        clock: FakeClock::at("2026-12-01T09:15:02Z".parse().unwrap()),
    };
    (deps, faults)
}

async fn invoke(deps: &D, payload: &str) -> Result<Value, lambda_runtime::Error> {
    let event = LambdaEvent::new(serde_json::from_str(payload).unwrap(), Context::default());
    handle(deps, event).await
}

async fn hash(deps: &D, account_id: &str) -> String {
    let account = deps.table.get_account(account_id).await.unwrap().unwrap();
    deps.keys
        .hash(&account, &E164::from_e164_unchecked(PROSPECT))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stop_reply_opts_out_of_every_account_sending_from_that_code_and_no_other() {
    let (deps, _) = world();
    let (logs, _guard) = capture_logs();
    let answer = invoke(&deps, STOP).await.unwrap();
    assert_eq!(
        answer,
        json!({"records": 1, "stop_requests": 1, "opt_outs": 2, "skipped": 0})
    );
    let opt_outs: Vec<OptOutItem> = deps.table.of("OPTOUT#");
    let mut got: Vec<(String, String, String)> = opt_outs
        .iter()
        .map(|o| (o.pk.clone(), o.caller_hash.clone(), o.source.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "ACCOUNT#plombier".into(),
                hash(&deps, "plombier").await,
                "sms_reply".into()
            ),
            (
                "ACCOUNT#serrurier".into(),
                hash(&deps, "serrurier").await,
                "sms_reply".into()
            ),
        ]
    );
    assert!(
        opt_outs
            .iter()
            .all(|o| o.opted_out_at == "2026-12-01T09:15:02Z")
    );
    let told: Vec<Value> = deps.events.of("OptedOut");
    assert_eq!(told.len(), 2);
    assert_eq!(told[0]["source"], "sms_reply");
    assert_eq!(told[0]["new"], true);
    // Nothing of the reply in the logs: neither the number nor the text.
    let text = logs.text();
    assert!(text.contains("opted out by STOP reply"), "{text}");
    assert!(
        rappel::fake::find_number(&text, &[PROSPECT]).is_none(),
        "{text}"
    );
    assert!(!text.contains("Arrêt"), "{text}");

    // SNS delivers again: nothing new, the first instant kept.
    deps.clock.advance(chrono::Duration::minutes(5));
    invoke(&deps, STOP).await.unwrap();
    let again: Vec<OptOutItem> = deps.table.of("OPTOUT#");
    assert_eq!(again.len(), 2);
    assert!(
        again
            .iter()
            .all(|o| o.opted_out_at == "2026-12-01T09:15:02Z")
    );
}

#[tokio::test]
async fn a_reply_that_is_not_a_keyword_records_nothing() {
    let (deps, _) = world();
    let answer = invoke(&deps, OTHER).await.unwrap();
    assert_eq!(
        answer,
        json!({"records": 1, "stop_requests": 0, "opt_outs": 0, "skipped": 0})
    );
    assert!(deps.table.of::<OptOutItem>("OPTOUT#").is_empty());
    assert!(deps.events.all().is_empty());
}

#[tokio::test]
async fn a_stop_to_a_code_no_account_uses_fails_and_an_unreadable_record_is_skipped() {
    let (deps, _) = world();
    // Not dropped: the invocation fails (Lambda retries, then the on-failure queue keeps it).
    let other_code = STOP.replace("36173", "38000");
    let err = invoke(&deps, &other_code).await.unwrap_err().to_string();
    assert!(err.contains("38000") && !err.contains("600000101"), "{err}");
    let garbage = json!({"Records": [{"Sns": {"MessageId": "x", "Message": "not json"}}]});
    let answer = invoke(&deps, &garbage.to_string()).await.unwrap();
    assert_eq!(
        answer,
        json!({"records": 1, "stop_requests": 0, "opt_outs": 0, "skipped": 1})
    );
    assert!(deps.table.of::<OptOutItem>("OPTOUT#").is_empty());
}

#[tokio::test]
async fn an_aws_failure_fails_the_invocation_and_the_retry_records_the_opt_out() {
    for op in [
        "dynamodb.Query",
        "kms.GenerateMac",
        "dynamodb.PutItem",
        "eventbridge.PutEvents",
    ] {
        for mode in [FaultMode::Before, FaultMode::After] {
            let (deps, faults) = world();
            faults.always(op, mode);
            assert!(invoke(&deps, STOP).await.is_err(), "{op} {mode:?}");
            faults.clear();
            invoke(&deps, STOP).await.unwrap();
            let opt_outs: Vec<OptOutItem> = deps.table.of("OPTOUT#");
            assert_eq!(opt_outs.len(), 2, "{op} {mode:?}");
        }
    }
}

#[tokio::test]
async fn a_short_code_index_that_outlived_its_account_is_skipped_and_the_others_opt_out() {
    let (deps, _) = world();
    // The index names "ferme", whose account was deleted by hand.
    deps.table
        .insert_raw(json!({"PK": "REPLY#36173", "SK": "ACCOUNT#ferme", "account_id": "ferme"}));
    let (logs, _guard) = capture_logs();
    let answer = invoke(&deps, STOP).await.unwrap();
    assert_eq!(answer["opt_outs"], 2);
    let mut opted: Vec<String> = deps
        .table
        .of::<OptOutItem>("OPTOUT#")
        .into_iter()
        .map(|o| o.pk)
        .collect();
    opted.sort();
    assert_eq!(opted, ["ACCOUNT#plombier", "ACCOUNT#serrurier"]);
    let logs = logs.text();
    assert!(
        logs.contains("names an account that no longer exists"),
        "{logs}"
    );
    assert!(!logs.contains("600000101"), "no number in the logs");
}
