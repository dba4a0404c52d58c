//! The AWS adapters against moto: the same SDK code as on Lambda, through `AWS_ENDPOINT_URL`.
//!
//! Run by `make adapters`, which starts moto and sets `RAPPEL_TEST_MOTO`. Each test creates
//! its own table and keys, so tests run in parallel without sharing state.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rappel::account::Account;
use rappel::account::Originator;
use rappel::aws::provision::{Names, provision};
use rappel::aws::{BookOutcome, EventBus, Finish, Kms, ScheduleError, Sns, SubjectErased, Table};
use rappel::call::{CallStatus, Direction};
use rappel::items::*;
use rappel::phone::{E164, LineType};
use rappel::ports::{EventPublisher, NumberOpener, NumberProtector, SecretsVault, SmsGateway};
use rappel::rules::{Outcome, Reason};
use rappel::store::{Contact, DailyCap};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

struct Env {
    config: aws_config::SdkConfig,
    names: Names,
}

async fn env() -> Env {
    let endpoint = std::env::var("RAPPEL_TEST_MOTO")
        .expect("RAPPEL_TEST_MOTO must point at a moto server: run `make adapters`");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(rappel::aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let run = std::process::id();
    let names = Names {
        table: format!("rappel-test-{run}-{n}"),
        number_key_alias: format!("alias/rappel-number-{run}-{n}"),
        secrets_key_alias: format!("alias/rappel-secrets-{run}-{n}"),
        hash_key_alias: format!("alias/rappel-hash-{run}-{n}"),
        event_bus: format!("rappel-test-{run}-{n}"),
    };
    provision(&config, &names).await.expect("provision on moto");
    Env { config, names }
}

impl Env {
    fn table(&self) -> Table {
        Table::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.names.table,
        )
        .without_cache()
    }
    fn kms(&self) -> Kms {
        Kms::new(
            aws_sdk_kms::Client::new(&self.config),
            &self.names.number_key_alias,
            &self.names.hash_key_alias,
        )
        .with_secrets_key(&self.names.secrets_key_alias)
    }
    /// Every attribute value of every item, as text (to look for clear numbers).
    async fn dump(&self) -> String {
        let out = aws_sdk_dynamodb::Client::new(&self.config)
            .scan()
            .table_name(&self.names.table)
            .send()
            .await
            .unwrap();
        format!("{:?}", out.items())
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn account() -> Account {
    Account::from_json(r#"{"account_id":"acme","company_name":"Acme Plomberie","webhook_secrets":{"generic":"s3cret"}}"#).unwrap()
}

fn call(sk_id: &str, hash: &str, received: DateTime<Utc>) -> CallItem {
    CallItem {
        pk: account_pk("acme"),
        sk: call_sk("generic", sk_id),
        account_id: "acme".into(),
        provider: "generic".into(),
        call_id: sk_id.into(),
        direction: Direction::Inbound,
        status: CallStatus::NoAnswer,
        provider_status: "no_answer".into(),
        caller: "number".into(),
        line_type: Some(LineType::Mobile),
        region: Some("FR".into()),
        caller_hash: Some(hash.into()),
        caller_masked: Some("+33 6•• •• •• 01".into()),
        number: Some("v1.sealed".into()),
        started_at: None,
        ended_at: None,
        ring_seconds: None,
        received_at: ts(received),
        happened_at: ts(received),
        outcome: None,
        reason: None,
        message_id: None,
        due_at: None,
        sent_at: None,
        decided_at: None,
        gsi1pk: None,
        gsi1sk: None,
        expires_at: (received + Duration::days(30)).timestamp(),
    }
}

fn cap() -> DailyCap {
    DailyCap {
        day: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        limit: 500,
    }
}

fn message(
    id: &str,
    call: &CallItem,
    due: DateTime<Utc>,
    day: NaiveDate,
) -> (MessageItem, LinkItem) {
    let hash = call.caller_hash.clone().unwrap();
    let token = format!("tok-{id}");
    let msg = MessageItem {
        pk: account_pk("acme"),
        sk: msg_sk(id),
        account_id: "acme".into(),
        message_id: id.into(),
        status: MessageStatus::Scheduled,
        call_sk: call.sk.clone(),
        caller_hash: hash.clone(),
        caller_masked: call.caller_masked.clone(),
        number: call.number.clone(),
        day_sk: day_sk(&hash, day),
        region: Some("FR".into()),
        call_happened_at: None,
        token: token.clone(),
        due_at: ts(due),
        send_before: ts(due + Duration::hours(72)),
        created_at: ts(due),
        sent_at: None,
        sns_message_id: None,
        opened_at: None,
        reason: Some(Reason::InHours),
        attempts: 0,
        claim_token: None,
        gsi1pk: Some(due_pk(shard_of(id, 4))),
        gsi1sk: Some(due_sk(due, id)),
        expires_at: (due + Duration::days(30)).timestamp(),
    };
    let link = LinkItem {
        pk: link_pk(&token),
        sk: LINK_SK.into(),
        account_id: "acme".into(),
        message_id: id.into(),
        call_sk: call.sk.clone(),
        caller_hash: hash,
        valid_until: ts(due + Duration::days(7)),
        region: Some("FR".into()),
        booking: None,
        opted_out_at: None,
        expires_at: (due + Duration::days(8)).timestamp(),
    };
    (msg, link)
}

#[tokio::test]
async fn accounts_round_trip_with_sealed_secrets() {
    let env = env().await;
    let table = env.table();
    let kms = env.kms();
    let now = t("2026-11-27T10:00:00Z");
    assert_eq!(table.get_account("acme").await.unwrap(), None);
    table.save_account(&kms, &account(), now).await.unwrap();

    // Readers get the settings and the provider names, never a secret.
    let back = table.get_account("acme").await.unwrap().unwrap();
    assert_eq!(back.company_name, "Acme Plomberie");
    assert!(back.secrets_for("generic").is_empty());
    assert_eq!(
        back.webhook_secrets.keys().collect::<Vec<_>>(),
        vec!["generic"]
    );
    assert_eq!(
        table.list_accounts().await.unwrap()[0]
            .webhook_secrets
            .keys()
            .collect::<Vec<_>>(),
        vec!["generic"]
    );

    // The secrets are sealed for this account: intake opens them with the secrets key.
    let (_, sealed) = table.get_account_sealed("acme").await.unwrap().unwrap();
    let sealed = sealed.expect("secrets are stored sealed");
    assert!(!sealed.contains("s3cret"));
    assert_eq!(
        kms.open_secrets("acme", &sealed).await.unwrap(),
        r#"{"generic":"s3cret"}"#
    );
    assert!(
        kms.open_secrets("other", &sealed).await.is_err(),
        "bound to the account"
    );
    assert!(
        !env.dump().await.contains("s3cret"),
        "no secret in clear in the table"
    );
}

#[tokio::test]
async fn a_call_is_stored_once_and_decided_once() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T10:00:00Z");
    let c = call("c1", "h1", now);
    assert!(
        table.put_call(&c).await.unwrap(),
        "first delivery is stored"
    );
    let mut changed = c.clone();
    changed.status = CallStatus::Answered;
    assert!(
        !table.put_call(&changed).await.unwrap(),
        "a redelivery changes nothing"
    );
    assert_eq!(table.calls("acme").await.unwrap(), vec![c.clone()]);

    assert!(
        table
            .record_decision(&c, Outcome::Skipped, Reason::NotMobile, now)
            .await
            .unwrap()
    );
    assert!(
        !table
            .record_decision(&c, Outcome::Skipped, Reason::Anonymous, now)
            .await
            .unwrap()
    );
    let stored = &table.calls("acme").await.unwrap()[0];
    assert_eq!(
        (stored.outcome, stored.reason),
        (Some(Outcome::Skipped), Some(Reason::NotMobile))
    );
}

#[tokio::test]
async fn schedule_reserves_the_day_atomically_and_refuses_a_second_message() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T10:00:00Z");
    let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let (c1, c2) = (call("c1", "h1", now), call("c2", "h1", now));
    table.put_call(&c1).await.unwrap();
    table.put_call(&c2).await.unwrap();
    let (m1, l1) = message("m1", &c1, now, day);
    let (m2, l2) = message("m2", &c2, now, day);
    table
        .schedule(&c1, &m1, &l1, Reason::InHours, &cap(), now)
        .await
        .unwrap();
    assert_eq!(
        table
            .schedule(&c2, &m2, &l2, Reason::InHours, &cap(), now)
            .await,
        Err(ScheduleError::AlreadyTextedToday)
    );
    // Nothing of the refused transaction was written.
    assert_eq!(table.get_message("acme", "m2").await.unwrap(), None);
    assert_eq!(table.get_link("tok-m2").await.unwrap(), None);
    // Scheduling the same call twice is refused as already decided.
    let (m3, l3) = message("m3", &c1, now, day.succ_opt().unwrap());
    assert_eq!(
        table
            .schedule(&c1, &m3, &l3, Reason::InHours, &cap(), now)
            .await,
        Err(ScheduleError::AlreadyDecided)
    );
    // The next day is free.
    let c4 = call("c4", "h1", now);
    table.put_call(&c4).await.unwrap();
    let (m4, l4) = message("m4", &c4, now + Duration::days(1), day.succ_opt().unwrap());
    table
        .schedule(&c4, &m4, &l4, Reason::InHours, &cap(), now)
        .await
        .unwrap();
}

#[tokio::test]
async fn opted_out_callers_are_refused_in_the_same_transaction() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T10:00:00Z");
    table.put_opt_out("acme", "h9", "link", now).await.unwrap();
    table
        .put_opt_out("acme", "h9", "carrier", now)
        .await
        .unwrap(); // idempotent
    assert!(table.is_opted_out("acme", "h9").await.unwrap());
    assert!(!table.is_opted_out("acme", "h8").await.unwrap());
    let c = call("c1", "h9", now);
    table.put_call(&c).await.unwrap();
    let (m, l) = message(
        "m1",
        &c,
        now,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    assert_eq!(
        table
            .schedule(&c, &m, &l, Reason::InHours, &cap(), now)
            .await,
        Err(ScheduleError::OptedOut)
    );
}

#[tokio::test]
async fn cancel_frees_the_day_and_claim_wins_once() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T20:30:00Z");
    let due = t("2026-11-28T07:00:00Z");
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let c1 = call("c1", "h1", now);
    table.put_call(&c1).await.unwrap();
    let (m1, l1) = message("m1", &c1, due, day);
    table
        .schedule(&c1, &m1, &l1, Reason::QuietHours, &cap(), now)
        .await
        .unwrap();

    // Not due yet: nobody can claim it, the due query does not return it.
    assert_eq!(
        table.claim("acme", "m1", "tok", 4, now).await.unwrap(),
        None
    );
    assert!(
        table
            .due(shard_of("m1", 4), now, None, 10)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
    assert_eq!(
        table
            .due(shard_of("m1", 4), due, None, 10)
            .await
            .unwrap()
            .entries,
        vec![Ok(("acme".to_string(), "m1".to_string()))]
    );

    let cancelled = table
        .cancel_pending("acme", "h1", Reason::AnsweredLater, now)
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(
        table
            .get_message("acme", "m1")
            .await
            .unwrap()
            .unwrap()
            .status,
        MessageStatus::Cancelled
    );
    assert_eq!(
        table.calls("acme").await.unwrap()[0].reason,
        Some(Reason::AnsweredLater)
    );
    assert!(
        table
            .due(shard_of("m1", 4), due, None, 10)
            .await
            .unwrap()
            .entries
            .is_empty(),
        "cancelled messages leave the due queue"
    );
    assert_eq!(
        table.claim("acme", "m1", "tok", 4, due).await.unwrap(),
        None
    );

    // The day is free again: a new message for that day can be scheduled and claimed once.
    let c2 = call("c2", "h1", now);
    table.put_call(&c2).await.unwrap();
    let (m2, l2) = message("m2", &c2, due, day);
    table
        .schedule(&c2, &m2, &l2, Reason::QuietHours, &cap(), now)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        table.claim("acme", "m2", "tok-a", 4, due),
        table.claim("acme", "m2", "tok-b", 4, due)
    );
    let claims = [a.unwrap(), b.unwrap()];
    assert_eq!(
        claims.iter().filter(|c| c.is_some()).count(),
        1,
        "exactly one claimer wins"
    );
    let claimed = claims.into_iter().flatten().next().unwrap();
    assert_eq!(claimed.status, MessageStatus::Sending);

    // A crash now leaves it in flight: visible to the stale query after the timeout.
    assert_eq!(
        table
            .stale_sending(shard_of("m2", 4), due + Duration::minutes(6))
            .await
            .unwrap()
            .len(),
        1
    );

    table
        .finish(
            &claimed,
            Finish::Sent {
                sns_message_id: "sns-1",
                reason: Reason::QuietHours,
            },
            due,
            true,
        )
        .await
        .unwrap();
    let sent = table.get_message("acme", "m2").await.unwrap().unwrap();
    assert_eq!(
        (
            sent.status,
            sent.sns_message_id.as_deref(),
            sent.number.as_deref()
        ),
        (MessageStatus::Sent, Some("sns-1"), None)
    );
    let c2_after = table
        .calls("acme")
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.call_id == "c2")
        .unwrap();
    assert_eq!(
        (
            c2_after.outcome,
            c2_after.sent_at.as_deref(),
            c2_after.number
        ),
        (Some(Outcome::Sent), Some("2026-11-28T07:00:00Z"), None)
    );
    assert!(
        table
            .stale_sending(shard_of("m2", 4), due + Duration::minutes(6))
            .await
            .unwrap()
            .is_empty()
    );
    // A sent message cannot be finished again.
    assert_eq!(
        table
            .finish(
                &claimed,
                Finish::Failed(Reason::SendInterrupted),
                due,
                false
            )
            .await,
        Ok(false)
    );
}

#[tokio::test]
async fn bookings_are_idempotent() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T10:00:00Z");
    let c = call("c1", "h1", now);
    table.put_call(&c).await.unwrap();
    let (m, l) = message(
        "m1",
        &c,
        now,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    table
        .schedule(&c, &m, &l, Reason::InHours, &cap(), now)
        .await
        .unwrap();
    let record = |id: &str| BookingItem {
        pk: account_pk("acme"),
        sk: booking_sk("h1", id),
        account_id: "acme".into(),
        caller_hash: "h1".into(),
        message_id: "m1".into(),
        call_sk: c.sk.clone(),
        booking: Booking {
            booking_id: id.into(),
            slot: "2026-11-30T09:00:00Z".into(),
            name: Some("Camille".into()),
            message: None,
            callback_number: None,
            booked_at: ts(now),
        },
        consent: Some(ConsentRecord {
            text: "En validant, vous demandez à Acme de vous rappeler.".into(),
            language: "fr".into(),
            page_version: "0123456789abcdef".into(),
        }),
        last_contact_at: ts(now),
        cancelled_at: None,
        rescheduled_at: None,
        expires_at: rappel::retention::expires(now, rappel::retention::BOOKING_DAYS),
    };
    let (first, second) = (record("b1"), record("b2"));
    let bookings = || raw_sks(&table, "ACCOUNT#acme", "BOOKING#");
    assert_eq!(
        table.book("tok-m1", &first, None, 2).await.unwrap(),
        BookOutcome::Booked(first.booking.clone())
    );
    assert_eq!(
        table.book("tok-m1", &second, None, 2).await.unwrap(),
        BookOutcome::Held(first.booking.clone()),
        "a resubmission gives the same booking"
    );
    let slot = t("2026-11-30T09:00:00Z");
    let counts = || table.slot_counts("acme", slot, slot);
    assert_eq!(counts().await.unwrap(), vec![(slot, 1)], "counted once");
    assert_eq!(
        bookings().await,
        vec!["BOOKING#h1#b1"],
        "one booking record, with consent"
    );
    // Withdrawing touches only the named booking; then the next booking holds.
    table.unbook("tok-m1", &second).await.unwrap();
    assert_eq!(
        table
            .get_link("tok-m1")
            .await
            .unwrap()
            .unwrap()
            .booking
            .unwrap()
            .booking_id,
        "b1"
    );
    assert_eq!(bookings().await, vec!["BOOKING#h1#b1"]);
    table.unbook("tok-m1", &first).await.unwrap();
    assert_eq!(
        table.get_link("tok-m1").await.unwrap().unwrap().booking,
        None
    );
    assert!(bookings().await.is_empty(), "withdrawn with its record");
    assert_eq!(counts().await.unwrap(), vec![(slot, 0)], "its place freed");
    assert_eq!(
        table.book("tok-m1", &second, None, 2).await.unwrap(),
        BookOutcome::Booked(second.booking.clone())
    );
    // Another prospect's link, same slot: the second place; a third is refused whole.
    let c2 = call("c2", "h2", now);
    table.put_call(&c2).await.unwrap();
    let (m2, l2) = message(
        "m2",
        &c2,
        now,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    table
        .schedule(&c2, &m2, &l2, Reason::InHours, &cap(), now)
        .await
        .unwrap();
    let mut other = record("b3");
    other.sk = booking_sk("h2", "b3");
    other.caller_hash = "h2".into();
    // With another number to call: written in the same transaction, withdrawn with it.
    let number = CallbackNumberItem {
        pk: account_pk("acme"),
        sk: callback_number_sk("h2", "b3"),
        account_id: "acme".into(),
        caller_hash: "h2".into(),
        booking_id: "b3".into(),
        number: "v1.sealed".into(),
        masked: "+33 6•• •• •• 07".into(),
        expires_at: rappel::retention::expires(now, 14),
    };
    let numbers = || raw_sks(&table, "ACCOUNT#acme", "NUMBER#");
    assert_eq!(
        table
            .book("tok-m2", &other, Some(&number), 2)
            .await
            .unwrap(),
        BookOutcome::Booked(other.booking.clone())
    );
    assert_eq!(numbers().await, vec!["NUMBER#h2#b3"]);
    table.unbook("tok-m2", &other).await.unwrap();
    assert!(numbers().await.is_empty(), "withdrawn with its booking");
    assert_eq!(
        table
            .book("tok-m2", &other, Some(&number), 1)
            .await
            .unwrap(),
        BookOutcome::SlotFull,
        "at capacity"
    );
    assert!(numbers().await.is_empty(), "refused whole: no number kept");
    assert!(
        table
            .get_link("tok-m2")
            .await
            .unwrap()
            .unwrap()
            .booking
            .is_none()
    );
    assert_eq!(
        raw_sks(&table, "ACCOUNT#acme", "BOOKING#h2").await.len(),
        0,
        "nothing half-written"
    );
    // A later visit is a contact: the booking is kept 3 years from it.
    let later = now + Duration::days(20);
    assert_eq!(table.touch_bookings("acme", "h1", later).await.unwrap(), 1);
    let data = table.subject_data("acme", "h1").await.unwrap();
    assert_eq!(data.bookings.len(), 1);
    assert_eq!(data.bookings[0]["last_contact_at"], ts(later));
    assert_eq!(
        data.bookings[0]["expires_at"],
        rappel::retention::expires(later, rappel::retention::BOOKING_DAYS)
    );
    assert_eq!(data.bookings[0]["consent"]["language"], "fr");
    table.mark_link_opted_out("tok-m1", now).await.unwrap();
    assert!(
        table
            .get_link("tok-m1")
            .await
            .unwrap()
            .unwrap()
            .opted_out_at
            .is_some()
    );
    // The opt-out link written with the message outlives the booking link.
    let optout = table.get_optout_link("tok-m1").await.unwrap().unwrap();
    assert_eq!(
        (optout.account_id.as_str(), optout.caller_hash.as_str()),
        ("acme", "h1")
    );
    assert!(optout.expires_at > l.expires_at + 300 * 86_400);
    assert!(table.book("tok-unknown", &first, None, 2).await.is_err());
    // Form posts per link and window.
    let window = t("2026-11-30T09:00:00Z");
    assert_eq!(table.rate_hit("tok-m1", window).await.unwrap(), 1);
    assert_eq!(table.rate_hit("tok-m1", window).await.unwrap(), 2);
    assert_eq!(
        table
            .rate_hit("tok-m1", window + Duration::minutes(10))
            .await
            .unwrap(),
        1
    );

    // A change of mind: tok-m1's booking (b2, 09:00) moves to 10:00, then is cancelled.
    let ten = t("2026-11-30T10:00:00Z");
    let moved = match table
        .reschedule_booking("tok-m1", &second, ten, 1, now)
        .await
        .unwrap()
    {
        BookOutcome::Booked(moved) => moved,
        other => panic!("{other:?}"),
    };
    assert_eq!(moved.slot, "2026-11-30T10:00:00Z");
    assert_eq!(
        table
            .get_link("tok-m1")
            .await
            .unwrap()
            .unwrap()
            .booking
            .unwrap()
            .slot,
        moved.slot
    );
    assert_eq!(
        table.slot_counts("acme", slot, ten).await.unwrap(),
        vec![(slot, 0), (ten, 1)]
    );
    // The same form again (stale: the booking is no longer at 09:00): nothing changes.
    assert_eq!(
        table
            .reschedule_booking("tok-m1", &second, slot, 1, now)
            .await
            .unwrap(),
        BookOutcome::Held(second.booking.clone())
    );
    // Into a full slot: refused whole.
    let mut at_ten = second.clone();
    at_ten.booking = moved.clone();
    let other_ten = t("2026-11-30T10:30:00Z");
    let other_at_ten = {
        let mut r = other.clone();
        r.booking.slot = ts(other_ten);
        r
    };
    table
        .book("tok-m2", &other_at_ten, Some(&number), 1)
        .await
        .unwrap();
    assert_eq!(
        table
            .reschedule_booking("tok-m1", &at_ten, other_ten, 1, now)
            .await
            .unwrap(),
        BookOutcome::SlotFull
    );
    assert_eq!(
        table
            .get_link("tok-m1")
            .await
            .unwrap()
            .unwrap()
            .booking
            .unwrap()
            .slot,
        moved.slot
    );
    // A cancelled booking's other number to call goes with it.
    assert_eq!(numbers().await, vec!["NUMBER#h2#b3"]);
    assert!(
        table
            .cancel_booking("tok-m2", &other_at_ten, now)
            .await
            .unwrap()
    );
    assert!(numbers().await.is_empty(), "cancelled: no number kept");
    assert!(table.cancel_booking("tok-m1", &at_ten, now).await.unwrap());
    assert!(
        !table.cancel_booking("tok-m1", &at_ten, now).await.unwrap(),
        "once"
    );
    assert!(
        table
            .get_link("tok-m1")
            .await
            .unwrap()
            .unwrap()
            .booking
            .is_none()
    );
    assert_eq!(
        table.slot_counts("acme", ten, ten).await.unwrap(),
        vec![(ten, 0)]
    );
    let kept = table.subject_data("acme", "h1").await.unwrap();
    assert!(
        kept.bookings
            .iter()
            .any(|b| b["cancelled_at"].is_string() && b["booking"]["slot"] == moved.slot),
        "kept as evidence"
    );
}

/// The sort keys of partition `pk` starting with `prefix`.
async fn raw_sks(table: &Table, pk: &str, prefix: &str) -> Vec<String> {
    let out = table
        .client()
        .query()
        .table_name(table.name())
        .key_condition_expression("PK = :pk AND begins_with(SK, :p)")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
        .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter_map(|i| i.get("SK").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}

#[tokio::test]
async fn opt_outs_from_every_channel_and_the_short_code_index() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-12-01T09:00:00Z");
    let mut a =
        Account::from_json(r#"{"account_id":"acme","company_name":"Acme","short_code":"36173"}"#)
            .unwrap();
    table.put_account(&a, None, now).await.unwrap();
    let b =
        Account::from_json(r#"{"account_id":"bravo","company_name":"Bravo","short_code":"36173"}"#)
            .unwrap();
    table.put_account(&b, None, now).await.unwrap();
    assert_eq!(
        table.reply_accounts("36173").await.unwrap(),
        ["acme", "bravo"]
    );
    // Changing the short code moves the index; removing it takes the account out.
    a.short_code = Some("38000".into());
    a.message_template = None;
    table.put_account(&a, None, now).await.unwrap();
    assert_eq!(table.reply_accounts("36173").await.unwrap(), ["bravo"]);
    assert_eq!(table.reply_accounts("38000").await.unwrap(), ["acme"]);
    a.short_code = None;
    table.put_account(&a, None, now).await.unwrap();
    assert!(table.reply_accounts("38000").await.unwrap().is_empty());

    assert!(
        table
            .record_opt_out("acme", "h9", OptOutSource::CarrierList, now)
            .await
            .unwrap()
    );
    assert!(
        !table
            .record_opt_out(
                "acme",
                "h9",
                OptOutSource::SmsReply,
                now + Duration::hours(1)
            )
            .await
            .unwrap()
    );
    let list = table.opt_outs("acme").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].source.as_str(), list[0].opted_out_at.as_str()),
        ("carrier_list", "2026-12-01T09:00:00Z")
    );
    assert!(table.is_opted_out("acme", "h9").await.unwrap());
    assert!(table.remove_opt_out("acme", "h9").await.unwrap());
    assert!(!table.remove_opt_out("acme", "h9").await.unwrap());
    assert!(!table.is_opted_out("acme", "h9").await.unwrap());
}

#[tokio::test]
async fn a_subject_is_exported_then_erased_except_the_opt_out_tombstone() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T10:00:00Z");
    let c = call("c7", "h7", now);
    table.put_call(&c).await.unwrap();
    let (m, l) = message(
        "m7",
        &c,
        now,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    table
        .schedule(&c, &m, &l, Reason::InHours, &cap(), now)
        .await
        .unwrap();
    let other = call("c8", "h8", now);
    table.put_call(&other).await.unwrap();
    table
        .record_opt_out("acme", "h7", OptOutSource::Link, now)
        .await
        .unwrap();
    // A booking with another number to call: both are the person's, both go.
    let token = l.pk.trim_start_matches("LINK#").to_string();
    let booking = BookingItem {
        pk: account_pk("acme"),
        sk: booking_sk("h7", "b7"),
        account_id: "acme".into(),
        caller_hash: "h7".into(),
        message_id: "m7".into(),
        call_sk: c.sk.clone(),
        booking: Booking {
            booking_id: "b7".into(),
            slot: "2026-11-30T09:00:00Z".into(),
            name: None,
            message: None,
            callback_number: Some("+33 7•• •• •• 09".into()),
            booked_at: ts(now),
        },
        consent: None,
        last_contact_at: ts(now),
        cancelled_at: None,
        rescheduled_at: None,
        expires_at: rappel::retention::expires(now, rappel::retention::BOOKING_DAYS),
    };
    let number = CallbackNumberItem {
        pk: account_pk("acme"),
        sk: callback_number_sk("h7", "b7"),
        account_id: "acme".into(),
        caller_hash: "h7".into(),
        booking_id: "b7".into(),
        number: "v1.sealed".into(),
        masked: "+33 7•• •• •• 09".into(),
        expires_at: rappel::retention::expires(now, 14),
    };
    assert!(matches!(
        table
            .book(&token, &booking, Some(&number), 5)
            .await
            .unwrap(),
        BookOutcome::Booked(_)
    ));

    let data = table.subject_data("acme", "h7").await.unwrap();
    assert_eq!(data.bookings.len(), 2, "the booking and its other number");
    assert_eq!(
        (
            data.calls.len(),
            data.messages.len(),
            data.links.len(),
            data.opt_outs.len()
        ),
        (1, 1, 2, 1)
    );
    assert_eq!(data.other.len(), 1, "the day reservation");
    assert!(
        data.messages[0]["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("v1."))
    );

    let erased = table.erase_subject("acme", "h7", now).await.unwrap();
    assert_eq!(
        erased,
        SubjectErased {
            deleted: 7,
            opt_out_kept: true,
            day_reservations_kept: 0
        }
    );
    let left = table.subject_data("acme", "h7").await.unwrap();
    assert_eq!(
        (left.len(), left.opt_outs.len()),
        (1, 1),
        "only the tombstone"
    );
    assert!(table.is_opted_out("acme", "h7").await.unwrap());
    // The other caller is untouched.
    assert_eq!(
        table.subject_data("acme", "h8").await.unwrap().calls.len(),
        1
    );

    // Someone who did not opt out: today's day reservation stays until it expires (promise 1),
    // everything else goes.
    let c9 = call("c9", "h9", now);
    table.put_call(&c9).await.unwrap();
    let (m9, l9) = message(
        "m9",
        &c9,
        now,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    table
        .schedule(&c9, &m9, &l9, Reason::InHours, &cap(), now)
        .await
        .unwrap();
    let erased = table.erase_subject("acme", "h9", now).await.unwrap();
    assert_eq!(
        erased,
        SubjectErased {
            deleted: 4,
            opt_out_kept: false,
            day_reservations_kept: 1
        }
    );
    let left = table.subject_data("acme", "h9").await.unwrap();
    assert_eq!((left.len(), left.other.len()), (1, 1));
    // Once it has expired, a second erase takes it too.
    let later = table
        .erase_subject("acme", "h9", now + Duration::days(5))
        .await
        .unwrap();
    assert_eq!(later.deleted, 1);
}

#[tokio::test]
async fn numbers_sealed_before_a_key_rotation_still_open() {
    let env = env().await;
    let kms = env.kms();
    let client = aws_sdk_kms::Client::new(&env.config);
    let key_id = client
        .describe_key()
        .key_id(&env.names.number_key_alias)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let status = client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert!(
        status.key_rotation_enabled(),
        "automatic rotation on, as in template.yaml"
    );
    let number = E164::from_e164_unchecked("+33600000003");
    let before = kms.seal("acme", &number).await.unwrap();
    client
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let rotations = client
        .list_key_rotations()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert_eq!(rotations.rotations().len(), 1);
    let after = kms.seal("acme", &number).await.unwrap();
    assert_eq!(
        kms.open("acme", &before).await.unwrap().expose(),
        "+33600000003"
    );
    assert_eq!(
        kms.open("acme", &after).await.unwrap().expose(),
        "+33600000003"
    );
}

#[tokio::test]
async fn kms_envelope_and_hash() {
    let env = env().await;
    let kms = env.kms();
    let number = E164::from_e164_unchecked("+33600000001");
    let sealed = kms.seal("acme", &number).await.unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains("600000001"));
    assert_eq!(
        kms.open("acme", &sealed).await.unwrap().expose(),
        "+33600000001"
    );
    assert!(
        kms.open("other", &sealed).await.is_err(),
        "the encryption context binds the number to its account"
    );
    // An account created before per-account keys: KMS GenerateMac.
    let legacy = |id: &str| {
        Account::from_json(&format!(r#"{{"account_id":"{id}","company_name":"Acme"}}"#)).unwrap()
    };
    let h1 = kms.hash(&legacy("acme"), &number).await.unwrap();
    assert_eq!(h1, kms.hash(&legacy("acme"), &number).await.unwrap());
    assert_eq!(h1.len(), 64);
    assert_ne!(h1, kms.hash(&legacy("other"), &number).await.unwrap());
    assert_ne!(
        h1,
        kms.hash(&legacy("acme"), &E164::from_e164_unchecked("+33600000002"))
            .await
            .unwrap()
    );
}

fn number_420() -> E164 {
    E164::from_e164_unchecked("+33600000420")
}

#[tokio::test]
async fn caller_hash_keys_are_per_account_opened_once_per_container_and_never_change() {
    let env = env().await;
    let table = env.table();
    let kms = env.kms();
    let now = t("2026-12-05T09:00:00Z");
    let number = E164::from_e164_unchecked("+33600000001");
    let new_account = |id: &str, company: &str| {
        Account::from_json(&format!(
            r#"{{"account_id":"{id}","company_name":"{company}"}}"#
        ))
        .unwrap()
    };
    table
        .save_account(&kms, &new_account("acme", "Acme"), now)
        .await
        .unwrap();
    table
        .save_account(&kms, &new_account("bravo", "Bravo"), now)
        .await
        .unwrap();
    let acme = table.get_account("acme").await.unwrap().unwrap();
    let bravo = table.get_account("bravo").await.unwrap().unwrap();
    let wrapped = acme
        .caller_hash_key
        .clone()
        .expect("a new account gets a key");
    assert_ne!(Some(&wrapped), bravo.caller_hash_key.as_ref());

    let h1 = kms.hash(&acme, &number).await.unwrap();
    assert_eq!(h1.len(), 64);
    assert_ne!(
        h1,
        kms.hash(&bravo, &number).await.unwrap(),
        "account-scoped"
    );
    // Another container opens the same key: the same hash.
    assert_eq!(env.kms().hash(&acme, &number).await.unwrap(), h1);
    // Opened once per container: a clone of this one (same cache) hashes without KMS, a
    // fresh one cannot without the secrets key.
    let no_kms = kms.clone().with_secrets_key("alias/does-not-exist");
    assert_eq!(no_kms.hash(&acme, &number).await.unwrap(), h1);
    assert!(
        env.kms()
            .with_secrets_key("alias/does-not-exist")
            .hash(&acme, &number)
            .await
            .is_err()
    );
    // A key moved to another account does not open (encryption context account_id).
    let mut forged = acme.clone();
    forged.caller_hash_key = bravo.caller_hash_key.clone();
    assert!(env.kms().hash(&forged, &number).await.is_err());

    // Saving the account again, even with another key given, keeps its key: hashes
    // (opt-outs, daily dedup) stay valid. A raw put with another key is refused.
    let mut changed = new_account("acme", "Acme Plomberie");
    changed.caller_hash_key = bravo.caller_hash_key.clone();
    table.save_account(&kms, &changed, now).await.unwrap();
    let err = table.put_account(&changed, None, now).await.unwrap_err();
    assert!(err.to_string().contains("another caller-hash key"), "{err}");
    // What an older tool would write (settings only) leaves the key item alone.
    let again = table.get_account("acme").await.unwrap().unwrap();
    table.put_account(&again, None, now).await.unwrap();
    let again = env.table().get_account("acme").await.unwrap().unwrap();
    assert_eq!(again.company_name, "Acme Plomberie");
    assert_eq!(again.caller_hash_key.as_deref(), Some(wrapped.as_str()));
    assert_eq!(env.kms().hash(&again, &number).await.unwrap(), h1);
    // Two creations of one account racing: the second to commit is refused, nothing written.
    let first = env.table();
    let mut late = new_account("charlie", "Charlie");
    late.caller_hash_key = Some(kms.new_caller_hash_key("charlie").await.unwrap());
    let mut early = late.clone();
    early.caller_hash_key = Some(kms.new_caller_hash_key("charlie").await.unwrap());
    first.put_account(&early, None, now).await.unwrap();
    let lost = env.table();
    // Here the second writer reads the first's account and is refused for its other key;
    // had both read "no account", the conditional creation (account and key only if absent)
    // refuses the second commit the same way.
    let err = lost.put_account(&late, None, now).await.unwrap_err();
    assert!(err.to_string().contains("another caller-hash key"), "{err}");
    assert_eq!(
        env.table()
            .get_account("charlie")
            .await
            .unwrap()
            .unwrap()
            .caller_hash_key,
        early.caller_hash_key
    );
    // Listed numbers reach the table as hashes only.
    let mut listing = new_account("delta", "Delta");
    listing.internal_numbers = vec!["+33600000420".into()];
    let err = table.put_account(&listing, None, now).await.unwrap_err();
    assert!(!err.to_string().contains("600000420"), "{err}");
    table.save_account(&kms, &listing, now).await.unwrap();
    let delta = table.get_account("delta").await.unwrap().unwrap();
    let expected = format!("hash:{}", kms.hash(&delta, &number_420()).await.unwrap());
    assert_eq!(delta.internal_numbers, vec![expected.clone()]);
    assert!(delta.is_internal(expected.trim_start_matches("hash:")));
    assert!(!env.dump().await.contains("600000420"));

    // An account stored before per-account keys keeps GenerateMac when saved again.
    table
        .put_account(&new_account("legacy", "Old"), None, now)
        .await
        .unwrap();
    let before = table.get_account("legacy").await.unwrap().unwrap();
    assert_eq!(before.caller_hash_key, None);
    let legacy_hash = kms.hash(&before, &number).await.unwrap();
    table
        .save_account(&kms, &new_account("legacy", "Old Co"), now)
        .await
        .unwrap();
    let after = table.get_account("legacy").await.unwrap().unwrap();
    assert_eq!(after.caller_hash_key, None);
    assert_eq!(kms.hash(&after, &number).await.unwrap(), legacy_hash);
    // The HASHKEY item holds the wrapped key (KMS ciphertext), not a plaintext key.
    assert!(env.dump().await.contains(&wrapped));
    assert!(
        wrapped.len() > 64,
        "a KMS CiphertextBlob, longer than a bare 32-byte key"
    );
}

#[tokio::test]
async fn sns_and_eventbridge() {
    let env = env().await;
    let sns = Sns::new(aws_sdk_sns::Client::new(&env.config));
    let to = E164::from_e164_unchecked("+33600000001");
    assert!(!sns.is_opted_out(&to).await.unwrap());
    assert!(
        sns.is_opted_out(&E164::from_e164_unchecked("+33600000099"))
            .await
            .unwrap(),
        "moto: numbers ending in 99 are opted out"
    );
    let id = sns
        .publish(
            &to,
            &Originator::SenderId("AcmePlomb".into()),
            "Acme : rappel https://x/r/abc Stop SMS : https://x/o/abc",
        )
        .await
        .unwrap();
    assert!(!id.is_empty());
    let bus = EventBus::new(
        aws_sdk_eventbridge::Client::new(&env.config),
        &env.names.event_bus,
    );
    bus.put(
        "MessageDue",
        serde_json::json!({"account_id": "acme", "message_id": "m1"}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn no_clear_number_in_the_table() {
    let env = env().await;
    let table = env.table();
    let kms = env.kms();
    let now = t("2026-11-27T10:00:00Z");
    let number = E164::from_e164_unchecked("+33600000042");
    table.save_account(&kms, &account(), now).await.unwrap();
    let acme = table.get_account("acme").await.unwrap().unwrap();
    let mut c = call("c1", &kms.hash(&acme, &number).await.unwrap(), now);
    c.number = Some(kms.seal("acme", &number).await.unwrap());
    table.put_call(&c).await.unwrap();
    let dump = env.dump().await;
    assert!(
        !dump.contains("600000042") && !dump.contains("06 00 00 00 42"),
        "{dump}"
    );
}

#[tokio::test]
async fn unsent_failures_free_the_day_and_reschedule_requeues() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T18:59:00Z");
    let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let c1 = call("c1", "h1", now);
    table.put_call(&c1).await.unwrap();
    let (m1, l1) = message("m1", &c1, now, day);
    table
        .schedule(&c1, &m1, &l1, Reason::InHours, &cap(), now)
        .await
        .unwrap();

    // Claimed too late (after 20:00): put back on the queue for Saturday 08:00 Paris.
    let late = t("2026-11-27T19:00:30Z");
    let saturday = t("2026-11-28T07:00:00Z");
    let claimed = table
        .claim("acme", "m1", "tok", 4, late)
        .await
        .unwrap()
        .unwrap();
    let friday_day = day_sk("h1", day);
    let saturday_day = day_sk("h1", NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
    assert!(
        table
            .reschedule(&claimed, saturday, &saturday_day, 4)
            .await
            .unwrap()
    );
    // The day reservation moved with the message (Friday free, Saturday taken).
    let days: Vec<String> = table
        .client()
        .scan()
        .table_name(table.name())
        .filter_expression("begins_with(SK, :d)")
        .expression_attribute_values(":d", AttributeValue::S("DAY#".into()))
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter_map(|i| i.get("SK").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    assert_eq!(days, vec![saturday_day.clone()]);
    assert_ne!(friday_day, saturday_day);
    let back = table.get_message("acme", "m1").await.unwrap().unwrap();
    assert_eq!(
        (back.status, back.due_at.as_str()),
        (MessageStatus::Scheduled, "2026-11-28T07:00:00Z")
    );
    assert_eq!(
        table.calls("acme").await.unwrap()[0].due_at.as_deref(),
        Some("2026-11-28T07:00:00Z")
    );
    assert!(
        table
            .due(shard_of("m1", 4), late, None, 10)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
    assert_eq!(
        table
            .due(shard_of("m1", 4), saturday, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );

    // SNS refuses it: nothing left, so the caller's day is free again.
    let claimed = table
        .claim("acme", "m1", "tok", 4, saturday)
        .await
        .unwrap()
        .unwrap();
    table
        .finish(
            &claimed,
            Finish::Failed(Reason::ProviderError),
            saturday,
            false,
        )
        .await
        .unwrap();
    let c2 = call("c2", "h1", now);
    table.put_call(&c2).await.unwrap();
    let (m2, l2) = message("m2", &c2, now, day);
    table
        .schedule(&c2, &m2, &l2, Reason::InHours, &cap(), now)
        .await
        .unwrap();
}

#[tokio::test]
async fn human_contact_cancels_only_messages_of_earlier_calls() {
    let env = env().await;
    let table = env.table();
    let missed_at = t("2026-11-27T19:59:00Z");
    let c1 = call("c1", "h1", missed_at);
    table.put_call(&c1).await.unwrap();
    let (mut m1, l1) = message(
        "m1",
        &c1,
        t("2026-11-28T07:00:00Z"),
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
    );
    m1.call_happened_at = Some(ts(missed_at));
    table
        .schedule(&c1, &m1, &l1, Reason::QuietHours, &cap(), missed_at)
        .await
        .unwrap();
    // An answered call from the morning, delivered late: it came before the missed call.
    let answered_at = t("2026-11-27T09:00:00Z");
    let none = table
        .cancel_pending_before(
            "acme",
            "h1",
            Reason::AnsweredLater,
            answered_at,
            t("2026-11-27T20:05:00Z"),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    // A later answered call cancels it.
    let later = t("2026-11-27T20:10:00Z");
    let some = table
        .cancel_pending_before("acme", "h1", Reason::AnsweredLater, later, later)
        .await
        .unwrap();
    assert_eq!(some.len(), 1);
}

#[tokio::test]
async fn contact_cap_claim_token_release_undecided_and_paging() {
    let env = env().await;
    let table = env.table();
    let now = t("2026-11-27T10:00:00Z");
    let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();

    // A human contact at 10:05 refuses the SMS of a missed call from 10:00 (rule 5, late
    // webhook), whatever order they are decided in.
    let mut c1 = call("c1", "h1", now);
    c1.gsi1pk = Some(undecided_pk(0));
    c1.gsi1sk = Some(undecided_sk(&c1.received_at, &c1.sk));
    table.put_call(&c1).await.unwrap();
    let contact = Contact {
        at: t("2026-11-27T10:05:00Z"),
        reason: Reason::CalledBack,
    };
    table.record_contact("acme", "h1", &contact).await.unwrap();
    // An earlier contact does not replace it.
    table
        .record_contact(
            "acme",
            "h1",
            &Contact {
                at: t("2026-11-27T09:00:00Z"),
                reason: Reason::AnsweredLater,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        table.last_contact("acme", "h1").await.unwrap(),
        Some(contact)
    );
    let (m1, l1) = message("m1", &c1, now, day);
    assert_eq!(
        table
            .schedule(&c1, &m1, &l1, Reason::InHours, &cap(), now)
            .await,
        Err(ScheduleError::HumanContact)
    );
    // Still undecided: the re-decide index lists it until a decision is recorded.
    let (undecided, _) = table.undecided(0, now, None, 10).await.unwrap();
    assert_eq!(undecided.len(), 1);
    assert_eq!(undecided[0].as_ref().unwrap().sk, c1.sk);
    assert!(
        table
            .undecided(0, now - Duration::seconds(1), None, 10)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    assert!(
        table
            .record_decision(&c1, Outcome::Skipped, Reason::CalledBack, now)
            .await
            .unwrap()
    );
    assert!(
        table
            .undecided(0, now, None, 10)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    // Opt-out and last contact in one read.
    let state = table.caller_state("acme", "h1").await.unwrap();
    assert_eq!(
        (state.opted_out, state.last_contact.map(|c| c.reason)),
        (false, Some(Reason::CalledBack))
    );
    table.put_opt_out("acme", "h1", "link", now).await.unwrap();
    assert!(table.caller_state("acme", "h1").await.unwrap().opted_out);
    assert_eq!(
        table.caller_state("acme", "nobody").await.unwrap(),
        rappel::store::CallerState::default()
    );
    // A pending event, stored as the call it reads as by the sweep.
    let mut pending = call("late", "h5", now);
    pending.sk = pending_sk("telnyx", "leg-9");
    table.put_pending(&pending).await.unwrap();
    assert_eq!(
        table.get_pending("acme", "telnyx", "leg-9").await.unwrap(),
        Some(pending.clone())
    );
    let promoted = table.promote_pending(&pending, 4).await.unwrap();
    assert_eq!(promoted.sk, call_sk("generic", "late"));
    assert_eq!(
        table.get_pending("acme", "telnyx", "leg-9").await.unwrap(),
        None
    );
    assert!(
        table
            .calls("acme")
            .await
            .unwrap()
            .iter()
            .any(|c| c.call_id == "late")
    );

    // The daily cap: one message allowed, the second refused.
    let one = DailyCap { day, limit: 1 };
    let c2 = call("c2", "h2", now);
    table.put_call(&c2).await.unwrap();
    let (m2, l2) = message("m2", &c2, now, day);
    table
        .schedule(&c2, &m2, &l2, Reason::InHours, &one, now)
        .await
        .unwrap();
    let c3 = call("c3", "h3", now);
    table.put_call(&c3).await.unwrap();
    let (m3, l3) = message("m3", &c3, now, day);
    assert_eq!(
        table
            .schedule(&c3, &m3, &l3, Reason::InHours, &one, now)
            .await,
        Err(ScheduleError::DailyCap)
    );

    // A claim is recognised by its token (an SDK retry after the claim applied).
    let claimed = table
        .claim("acme", "m2", "tok-1", 4, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.claim_token.as_deref(), Some("tok-1"));
    assert!(
        table
            .claim("acme", "m2", "tok-1", 4, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        table
            .claim("acme", "m2", "tok-2", 4, now)
            .await
            .unwrap()
            .is_none()
    );
    // Released after a failure before Publish: back on the queue later, attempt counted.
    let retry_at = now + Duration::seconds(30);
    assert!(table.release(&claimed, retry_at, 4).await.unwrap());
    let back = table.get_message("acme", "m2").await.unwrap().unwrap();
    assert_eq!(
        (back.status, back.due_at.as_str(), back.attempts),
        (MessageStatus::Scheduled, "2026-11-27T10:00:30Z", 1)
    );
    assert!(
        !table.release(&claimed, retry_at, 4).await.unwrap(),
        "no longer sending"
    );

    // Paging: 5 due messages in one shard, read 2 at a time, plus an unreadable one.
    let shard = 0;
    for i in 0..5 {
        let id = format!("p{i}");
        let (mut m, _) = message(&id, &c2, now, day);
        m.gsi1pk = Some(due_pk(shard));
        m.gsi1sk = Some(due_sk(now, &id));
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&m).unwrap();
        table
            .client()
            .put_item()
            .table_name(table.name())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    // A message written by a newer version (a reason this code does not know).
    let broken = std::collections::HashMap::from([
        ("PK".to_string(), AttributeValue::S(account_pk("acme"))),
        ("SK".to_string(), AttributeValue::S(msg_sk("broken"))),
        ("account_id".to_string(), AttributeValue::S("acme".into())),
        ("message_id".to_string(), AttributeValue::S("broken".into())),
        (
            "reason".to_string(),
            AttributeValue::S("a_future_reason".into()),
        ),
        ("GSI1PK".to_string(), AttributeValue::S(due_pk(shard))),
        ("GSI1SK".to_string(), AttributeValue::S(due_sk(now, "p2x"))),
    ]);
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(broken))
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let page = table.due(shard, now, cursor.as_deref(), 2).await.unwrap();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let ok: Vec<String> = seen
        .iter()
        .filter_map(|e| e.as_ref().ok())
        .map(|(_, m)| m.clone())
        .collect();
    let bad: Vec<String> = seen
        .iter()
        .filter_map(|e| e.as_ref().err())
        .cloned()
        .collect();
    assert_eq!(ok, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!(bad, ["ACCOUNT#acme/MSG#broken"]);
}

#[tokio::test]
async fn sns_errors_never_carry_the_number() {
    let env = env().await;
    let sns = Sns::new(aws_sdk_sns::Client::new(&env.config));
    // An invalid destination: SNS answers with the number in its message; the port error
    // must not carry it (promise 3).
    let bad = E164::from_e164_unchecked("+3360000000123456");
    let err = sns
        .publish(&bad, &Originator::ShortCode("36173".into()), "hello")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("3360000000123456"), "{text}");
    assert!(!text.contains("60000000"), "{text}");
}

/// The functions' own SDK configuration (environment only, no provider chain) signs and sends
/// real requests, and each adapter's cold-start warm-up call succeeds; one that cannot (a bus
/// that does not exist) is counted out without failing the others.
#[tokio::test]
async fn the_lambda_configuration_reaches_every_service_and_warms_each_up() {
    let env = env().await;
    let endpoint = std::env::var("RAPPEL_TEST_MOTO").unwrap();
    let vars = [
        ("AWS_REGION", "eu-west-3".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_ENDPOINT_URL", endpoint),
    ];
    let config = rappel::aws::sdk_config_from(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    });
    let table = Table::new(aws_sdk_dynamodb::Client::new(&config), &env.names.table);
    let kms = Kms::new(
        aws_sdk_kms::Client::new(&config),
        &env.names.number_key_alias,
        &env.names.hash_key_alias,
    );
    let sns = Sns::new(aws_sdk_sns::Client::new(&config));
    let bus = EventBus::new(
        aws_sdk_eventbridge::Client::new(&config),
        &env.names.event_bus,
    );
    let missing = EventBus::new(aws_sdk_eventbridge::Client::new(&config), "no-such-bus");
    table.warm_up().await.expect("dynamodb");
    kms.warm_up().await.expect("kms");
    sns.warm_up().await.expect("sns");
    bus.warm_up().await.expect("eventbridge");
    assert!(missing.warm_up().await.is_err());
    let ok = rappel::aws::warm_up(vec![
        ("dynamodb", Box::pin(table.warm_up())),
        ("kms", Box::pin(kms.warm_up())),
        ("sns", Box::pin(sns.warm_up())),
        ("eventbridge", Box::pin(bus.warm_up())),
        ("eventbridge", Box::pin(missing.warm_up())),
    ])
    .await;
    assert_eq!(ok, 4);
    // Nothing was written by warming up.
    assert_eq!(env.dump().await, "[]");
}
