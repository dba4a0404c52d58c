//! The booking handler through `respond`, with in-memory fakes of its ports.
use super::*;
use chrono::TimeZone;
use lambda_http::RequestExt;
use lambda_http::http::header::{HeaderName, HeaderValue};
use rappel::items::OptOutLinkItem;
use serde_json::json;
use std::sync::Mutex;

const TOKEN: &str = "k3Jd8fQ2xLmN7pRtV9wYbA";

/// Friday 27 November 2026, 19:30 in Paris (the time of the sample events).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 18, 30, 0).unwrap()
}

fn account() -> Account {
    Account::from_json(r#"{"account_id":"plomberie-martin","company_name":"Plomberie Martin"}"#)
        .unwrap()
}

fn link() -> LinkItem {
    LinkItem {
        pk: format!("LINK#{TOKEN}"),
        sk: "LINK".into(),
        account_id: "plomberie-martin".into(),
        message_id: "msg_0123".into(),
        call_sk: "CALL#twilio#CA42#dial".into(),
        caller_hash: "h4sh".into(),
        valid_until: "2026-12-04T18:30:00Z".into(),
        region: Some("FR".into()),
        booking: None,
        opted_out_at: None,
        expires_at: 0,
    }
}

fn context(link: LinkItem) -> Context {
    Context {
        token: TOKEN.into(),
        link,
        account: account(),
        base_url: "https://rappel.example.fr".into(),
        expired: false,
        full: Vec::new(),
        lang: Lang::Fr,
    }
}

// ---------------------------------------------------------------- fakes

#[derive(Default)]
struct FakeStore {
    link: Mutex<Option<LinkItem>>,
    account: Option<Account>,
    fail: bool,
    opt_outs: Mutex<Vec<(String, String)>>,
    cancels: Mutex<usize>,
    records: Mutex<Vec<BookingItem>>,
    /// Times `mark_opened` was asked.
    opened: Mutex<u32>,
    /// Form posts per rate-limit window.
    posts: Mutex<std::collections::HashMap<DateTime<Utc>, u32>>,
    /// Callbacks booked per slot (RFC 3339 start).
    slots: Mutex<std::collections::HashMap<String, u32>>,
    optout_link: Mutex<Option<OptOutLinkItem>>,
    /// Another tab or prospect got there between the page's read and the booking.
    race: Option<Race>,
    /// Other numbers to call, as written with their bookings.
    numbers: Mutex<Vec<CallbackNumberItem>>,
}

/// What happened between reading the page and booking.
#[derive(Clone, Copy)]
enum Race {
    /// The link was booked meanwhile (`bkg_earlier`).
    EarlierBooking,
    /// The slot's last place was taken meanwhile.
    SlotTaken,
}

impl FakeStore {
    fn with(link: LinkItem) -> FakeStore {
        FakeStore {
            link: Mutex::new(Some(link)),
            account: Some(account()),
            ..FakeStore::default()
        }
    }
    fn check(&self) -> Result<(), PortError> {
        if self.fail {
            Err(PortError::new("dynamodb", "throttled"))
        } else {
            Ok(())
        }
    }
    fn stored(&self) -> LinkItem {
        self.link.lock().unwrap().clone().unwrap()
    }
}

impl BookingStore for FakeStore {
    async fn link(&self, token: &str) -> Result<Option<LinkItem>, PortError> {
        self.check()?;
        Ok(self.link.lock().unwrap().clone().filter(|_| token == TOKEN))
    }
    async fn account(&self, _: &str) -> Result<Option<Account>, PortError> {
        Ok(self.account.clone())
    }
    async fn caller_masked(&self, _: &str, _: &str) -> Result<Option<String>, PortError> {
        Ok(Some("+33 6•• •• •• 01".into()))
    }
    async fn book(
        &self,
        _: &str,
        record: &BookingItem,
        number: Option<&CallbackNumberItem>,
        capacity: u32,
    ) -> Result<BookOutcome, PortError> {
        match self.race {
            Some(Race::EarlierBooking) => {
                return Ok(BookOutcome::Held(Booking {
                    booking_id: "bkg_earlier".into(),
                    // The other tab gave no other number.
                    callback_number: None,
                    ..record.booking.clone()
                }));
            }
            Some(Race::SlotTaken) => return Ok(BookOutcome::SlotFull),
            None => {}
        }
        let mut link = self.link.lock().unwrap();
        let link = link.as_mut().unwrap();
        if let Some(held) = &link.booking {
            return Ok(BookOutcome::Held(held.clone()));
        }
        let mut slots = self.slots.lock().unwrap();
        let count = slots.entry(record.booking.slot.clone()).or_default();
        if *count >= capacity {
            return Ok(BookOutcome::SlotFull);
        }
        *count += 1;
        link.booking = Some(record.booking.clone());
        self.records.lock().unwrap().push(record.clone());
        self.numbers.lock().unwrap().extend(number.cloned());
        Ok(BookOutcome::Booked(record.booking.clone()))
    }
    async fn slot_counts(
        &self,
        _: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, u32)>, PortError> {
        Ok(self
            .slots
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(slot, n)| parse_instant(slot).map(|at| (at, *n)))
            .filter(|(at, _)| (from..=to).contains(at))
            .collect())
    }
    async fn unbook(&self, _: &str, record: &BookingItem) -> Result<(), PortError> {
        let mut link = self.link.lock().unwrap();
        let link = link.as_mut().unwrap();
        if link
            .booking
            .as_ref()
            .is_some_and(|b| b.booking_id == record.booking.booking_id)
        {
            link.booking = None;
            self.records.lock().unwrap().retain(|r| r.sk != record.sk);
            self.numbers
                .lock()
                .unwrap()
                .retain(|n| n.booking_id != record.booking.booking_id);
            if let Some(n) = self.slots.lock().unwrap().get_mut(&record.booking.slot) {
                *n -= 1;
            }
        }
        Ok(())
    }
    async fn reschedule_booking(
        &self,
        _: &str,
        record: &BookingItem,
        slot: DateTime<Utc>,
        capacity: u32,
        _: DateTime<Utc>,
    ) -> Result<BookOutcome, PortError> {
        let mut link = self.link.lock().unwrap();
        let link = link.as_mut().unwrap();
        let Some(current) = link.booking.clone().filter(|b| *b == record.booking) else {
            return Ok(BookOutcome::Held(record.booking.clone()));
        };
        let mut slots = self.slots.lock().unwrap();
        let new = ts(slot);
        if *slots.get(&new).unwrap_or(&0) >= capacity {
            return Ok(BookOutcome::SlotFull);
        }
        *slots.entry(new.clone()).or_default() += 1;
        if let Some(n) = slots.get_mut(&current.slot) {
            *n = n.saturating_sub(1);
        }
        let moved = Booking {
            slot: new,
            ..current
        };
        link.booking = Some(moved.clone());
        Ok(BookOutcome::Booked(moved))
    }
    async fn cancel_booking(
        &self,
        _: &str,
        record: &BookingItem,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut link = self.link.lock().unwrap();
        let link = link.as_mut().unwrap();
        if link.booking.as_ref() != Some(&record.booking) {
            return Ok(false);
        }
        link.booking = None;
        if let Some(n) = self.slots.lock().unwrap().get_mut(&record.booking.slot) {
            *n = n.saturating_sub(1);
        }
        self.numbers
            .lock()
            .unwrap()
            .retain(|n| n.booking_id != record.booking.booking_id);
        for r in self.records.lock().unwrap().iter_mut() {
            if r.booking.booking_id == record.booking.booking_id {
                r.cancelled_at = Some(ts(now));
            }
        }
        Ok(true)
    }
    async fn optout_link(&self, token: &str) -> Result<Option<OptOutLinkItem>, PortError> {
        self.check()?;
        Ok(self
            .optout_link
            .lock()
            .unwrap()
            .clone()
            .filter(|_| token == TOKEN))
    }
    async fn is_opted_out(&self, a: &str, h: &str) -> Result<bool, PortError> {
        Ok(self
            .opt_outs
            .lock()
            .unwrap()
            .contains(&(a.into(), h.into())))
    }
    async fn rate_hit(&self, _: &str, window: DateTime<Utc>) -> Result<u32, PortError> {
        let mut posts = self.posts.lock().unwrap();
        let n = posts.entry(window).or_default();
        *n += 1;
        Ok(*n)
    }
    async fn mark_opened(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<bool, PortError> {
        let mut opened = self.opened.lock().unwrap();
        *opened += 1;
        Ok(*opened == 1)
    }
    async fn touch_bookings(
        &self,
        _: &str,
        _: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        let mut records = self.records.lock().unwrap();
        for r in records.iter_mut() {
            r.last_contact_at = ts(now);
        }
        Ok(records.len())
    }
    async fn put_opt_out(&self, a: &str, h: &str, _: DateTime<Utc>) -> Result<bool, PortError> {
        let mut opt_outs = self.opt_outs.lock().unwrap();
        let new = !opt_outs.contains(&(a.into(), h.into()));
        opt_outs.push((a.into(), h.into()));
        Ok(new)
    }
    async fn mark_link_opted_out(&self, _: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        if let Some(link) = self.link.lock().unwrap().as_mut() {
            link.opted_out_at.get_or_insert_with(|| ts(now));
        }
        if let Some(link) = self.optout_link.lock().unwrap().as_mut() {
            link.opted_out_at.get_or_insert_with(|| ts(now));
        }
        Ok(())
    }
    async fn cancel_pending(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<usize, PortError> {
        let mut n = self.cancels.lock().unwrap();
        *n += 1;
        Ok(if *n == 1 { 1 } else { 0 })
    }
}

#[derive(Default)]
struct FakeEvents(Mutex<Vec<(String, serde_json::Value)>>);

impl EventPublisher for FakeEvents {
    async fn put(&self, detail_type: &str, detail: serde_json::Value) -> Result<(), PortError> {
        self.0.lock().unwrap().push((detail_type.into(), detail));
        Ok(())
    }
}

/// Events that fail the first `n` times.
struct FlakyEvents(Mutex<u32>, FakeEvents);

impl EventPublisher for FlakyEvents {
    async fn put(&self, detail_type: &str, detail: serde_json::Value) -> Result<(), PortError> {
        let fail = {
            let mut left = self.0.lock().unwrap();
            let fail = *left > 0;
            *left = left.saturating_sub(1);
            fail
        };
        if fail {
            return Err(PortError::new("eventbridge", "throttled"));
        }
        self.1.put(detail_type, detail).await
    }
}

#[tokio::test]
async fn a_booking_the_business_was_not_told_of_is_withdrawn_and_the_retry_tells_it() {
    let store = FakeStore::with(link());
    let events = FlakyEvents(Mutex::new(1), FakeEvents::default());
    let post = || {
        request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z&name=Camille",
        )
    };
    let first = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &post(),
    )
    .await;
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(store.stored().booking, None, "nothing half-done");
    let again = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &post(),
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    let sent = events.1.0.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].1["booking_id"],
        store.stored().booking.unwrap().booking_id
    );
}

/// Sealing that works (the fake's reversible encoding).
fn keys() -> rappel::fake::FakeKeys {
    rappel::fake::FakeKeys::new(rappel::fake::Faults::new())
}

struct FixedClock(DateTime<Utc>);
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn request(method: &str, path: &str, body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://rappel.example.fr{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text(body.into()))
        .unwrap()
}

async fn call(store: &FakeStore, events: &FakeEvents, req: Request) -> (u16, String) {
    let response = respond(
        store,
        &keys(),
        events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &req,
    )
    .await;
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        other => String::from_utf8_lossy(other.as_ref()).into_owned(),
    };
    (response.status().as_u16(), text)
}

// ---------------------------------------------------------------- routing

#[test]
fn routes_on_trailing_segments() {
    let get = Method::GET;
    let post = Method::POST;
    assert_eq!(
        route(&get, &format!("/r/{TOKEN}")),
        Route::Page(TOKEN.into())
    );
    assert_eq!(
        route(&Method::HEAD, &format!("/r/{TOKEN}")),
        Route::Page(TOKEN.into())
    );
    assert_eq!(
        route(&post, &format!("/r/{TOKEN}")),
        Route::Book(TOKEN.into())
    );
    assert_eq!(
        route(&post, &format!("/r/{TOKEN}/opt-out")),
        Route::OptOut(TOKEN.into())
    );
    // Stage or custom-domain base path in front; trailing slash.
    assert_eq!(
        route(&get, &format!("/prod/rappel/r/{TOKEN}/")),
        Route::Page(TOKEN.into())
    );
    assert_eq!(
        route(&post, &format!("/prod/r/{TOKEN}/opt-out")),
        Route::OptOut(TOKEN.into())
    );
    // Other methods.
    assert_eq!(
        route(&Method::PUT, &format!("/r/{TOKEN}")),
        Route::MethodNotAllowed("GET, HEAD, POST")
    );
    assert_eq!(
        route(&get, &format!("/r/{TOKEN}/opt-out")),
        Route::MethodNotAllowed("POST")
    );
    assert_eq!(
        route(&Method::DELETE, &format!("/r/{TOKEN}/opt-out")),
        Route::MethodNotAllowed("POST")
    );
    // Anything else.
    for path in [
        "/",
        "",
        "/r",
        "/r/",
        &format!("/x/{TOKEN}"),
        &format!("/r/{TOKEN}/book"),
        &format!("/r/{TOKEN}/opt-out/x"),
    ] {
        assert_eq!(route(&get, path), Route::NotFound, "{path}");
        assert_eq!(route(&post, path), Route::NotFound, "{path}");
    }
}

#[test]
fn token_format_is_checked_before_any_read() {
    assert!(is_token(TOKEN));
    assert!(is_token("AAAAAAAAAAAAAAAAAAAA-_"));
    for bad in [
        "k3Jd8fQ2xLmN7pRtV9wYb",   // 21
        "k3Jd8fQ2xLmN7pRtV9wYbAA", // 23
        "k3Jd8fQ2xLmN7pRtV9wYb=",  // padding
        "k3Jd8fQ2xLmN7pRtV9wYb+",  // standard alphabet
        "k3Jd8fQ2xLmN7pRtV9wYb%",
        "k3Jd8fQ2xLmN7pRtV9wYbé",
        "",
    ] {
        assert!(!is_token(bad), "{bad}");
        assert_eq!(route(&Method::GET, &format!("/r/{bad}")), Route::NotFound);
    }
}

#[tokio::test]
async fn malformed_token_is_404_without_a_table_read() {
    // A failing store would answer 500 if it were read.
    let store = FakeStore {
        fail: true,
        ..FakeStore::default()
    };
    let (status, body) = call(
        &store,
        &FakeEvents::default(),
        request("GET", "/r/short", ""),
    )
    .await;
    assert_eq!(status, 404);
    assert!(body.contains("Lien introuvable"));
}

#[test]
fn sample_events_parse_and_route() {
    let cases = [
        (
            include_str!("../../../../events/booking-get.json"),
            Route::Page(TOKEN.into()),
        ),
        (
            include_str!("../../../../events/booking-post.json"),
            Route::Book(TOKEN.into()),
        ),
        (
            include_str!("../../../../events/booking-opt-out.json"),
            Route::OptOut(TOKEN.into()),
        ),
    ];
    for (json, expected) in cases {
        let req = lambda_http::request::from_str(json).expect("event parses");
        assert_eq!(route(req.method(), req.uri().path()), expected);
    }
    // The POST body arrives base64-decoded and parses as the form.
    let req = lambda_http::request::from_str(include_str!("../../../../events/booking-post.json"))
        .unwrap();
    let form = RawForm::parse(req.body().as_ref());
    assert_eq!(form.slot.as_deref(), Some("2026-11-30T09:00:00Z"));
    assert_eq!(form.name.as_deref(), Some("Jean Dupont"));
    assert_eq!(form.message.as_deref(), Some("Plutôt avant midi"));
    assert!(req.raw_http_path().ends_with(TOKEN));
}

// ---------------------------------------------------------------- form

#[test]
fn form_parsing_takes_first_values_and_ignores_unknown_fields() {
    let f = RawForm::parse(b"slot=a&slot=b&x=1&name=%C3%89lodie");
    assert_eq!(f.slot.as_deref(), Some("a"));
    assert_eq!(f.name.as_deref(), Some("Élodie"));
    assert_eq!(f.message, None);
    assert_eq!(RawForm::parse(b""), RawForm::default());
    assert_eq!(RawForm::parse(b"\xff\xfe=%"), RawForm::default());
}

fn raw(slot: &str, name: &str, message: &str) -> RawForm {
    RawForm {
        slot: Some(slot.into()),
        name: Some(name.into()),
        message: Some(message.into()),
        ..RawForm::default()
    }
}

#[test]
fn validation_accepts_offered_slots_and_trims() {
    let form = validate(
        &raw(
            "2026-11-30T10:00:00+01:00",
            "  Jean\tDupont \r\n",
            "\r\n Ligne 1\r\nLigne 2\u{7}  ",
        ),
        &account(),
        now(),
        &[],
        "FR",
    )
    .unwrap();
    assert_eq!(
        form.slot,
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
    );
    assert_eq!(form.name.as_deref(), Some("Jean Dupont"));
    assert_eq!(form.message.as_deref(), Some("Ligne 1\nLigne 2"));
    let blank = validate(
        &raw("2026-11-30T09:00:00Z", "   ", "\n"),
        &account(),
        now(),
        &[],
        "FR",
    )
    .unwrap();
    assert_eq!((blank.name, blank.message), (None, None));
    // Exactly at the limits (characters, not bytes).
    let ok = validate(
        &raw("2026-11-30T09:00:00Z", &"é".repeat(100), &"à".repeat(500)),
        &account(),
        now(),
        &[],
        "FR",
    );
    assert!(ok.is_ok());
    // A slot at capacity is refused, whatever the form says.
    let full = [Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()];
    let taken = validate(
        &raw("2026-11-30T09:00:00Z", "", ""),
        &account(),
        now(),
        &full,
        "FR",
    );
    assert_eq!(taken, Err(FormError::SlotTaken));
    assert!(ok.is_ok());
}

#[test]
fn validation_refusals() {
    let a = account();
    let cases = [
        (RawForm::default(), FormError::Slot),
        (raw("", "", ""), FormError::Slot),
        (raw("lundi", "", ""), FormError::Slot),
        (raw("2026-11-30 09:00", "", ""), FormError::Slot),
        // Past, off grid, weekend, lunch, beyond the offer window.
        (
            raw("2026-11-27T09:00:00Z", "", ""),
            FormError::SlotNotOffered,
        ),
        (
            raw("2026-11-30T09:10:00Z", "", ""),
            FormError::SlotNotOffered,
        ),
        (
            raw("2026-11-28T09:00:00Z", "", ""),
            FormError::SlotNotOffered,
        ),
        (
            raw("2026-11-30T12:00:00Z", "", ""),
            FormError::SlotNotOffered,
        ),
        (
            raw("2027-01-04T09:00:00Z", "", ""),
            FormError::SlotNotOffered,
        ),
        (
            raw("2026-11-30T09:00:00Z", &"x".repeat(101), ""),
            FormError::NameTooLong,
        ),
        (
            raw("2026-11-30T09:00:00Z", "", &"x".repeat(501)),
            FormError::MessageTooLong,
        ),
    ];
    for (form, expected) in cases {
        assert_eq!(
            validate(&form, &a, now(), &[], "FR"),
            Err(expected),
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn refused_forms_answer_422_with_the_form_and_values() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let path = format!("/r/{TOKEN}");
    let (status, body) = call(&store, &events, request("POST", &path, "name=Jean")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Choisissez un créneau de rappel dans la liste."));
    assert!(body.contains(r#"value="Jean""#));
    assert!(!markup(&body).contains("checked"));
    let (status, body) = call(
        &store,
        &events,
        request("POST", &path, "slot=2026-11-28T09%3A00%3A00Z"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("Ce créneau n&#39;est plus disponible"),
        "{body}"
    );
    let long = format!("slot=2026-11-30T09%3A00%3A00Z&message={}", "x".repeat(501));
    let (status, body) = call(&store, &events, request("POST", &path, &long)).await;
    assert_eq!(status, 422);
    assert!(body.contains("500 caractères"));
    // The valid slot the prospect chose stays chosen.
    assert_eq!(markup(&body).matches("checked").count(), 1);
    assert!(body.contains(r#"value="2026-11-30T09:00:00Z" required checked"#));
    assert!(store.stored().booking.is_none());
    assert!(events.0.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------- templates

/// The page after its inline style sheet (which mentions `:checked`).
fn markup(html: &str) -> &str {
    html.split_once("</style>").expect("a style sheet").1
}

fn page(link: LinkItem, state: &FormState) -> String {
    link_page(&context(link), now(), state)
}

#[test]
fn page_shows_company_reason_slots_and_nothing_checked() {
    let html = page(link(), &FormState::default());
    assert!(html.starts_with("<!doctype html>\n<html lang=\"fr\">"));
    assert!(
        html.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert!(html.contains("<p class=\"brand\">Plomberie Martin</p>"));
    assert!(html.contains("Vous avez appelé Plomberie Martin et nous n&#39;avons pas pu répondre"));
    // Friday 19:30: next slots are Monday 30 November from 10:00, then Tuesday 1 December.
    assert!(html.contains("<legend>lundi 30 novembre</legend>"));
    assert!(html.contains("<legend>mardi 1er décembre</legend>"));
    assert!(html.contains(r#"<label class="slot" for="slot-0"><input type="radio" id="slot-0" name="slot" value="2026-11-30T09:00:00Z" required><span>10:00</span></label>"#));
    assert!(!html.contains("vendredi 27 novembre"));
    assert_eq!(html.matches(r#"type="radio""#).count(), MAX_SLOTS);
    assert!(!markup(&html).contains("checked"));
    assert!(html.contains(
        r#"<form method="post" action="https://rappel.example.fr/r/k3Jd8fQ2xLmN7pRtV9wYbA">"#
    ));
    assert!(html.contains(r#"<label class="field" for="name">Votre nom"#));
    assert!(html.contains(r#"<input type="text" id="name" name="name" maxlength="100""#));
    assert!(html.contains(r#"<textarea id="message" name="message" maxlength="500""#));
}

#[test]
fn page_has_privacy_notice_and_opt_out() {
    let html = page(link(), &FormState::default());
    assert!(html.contains(r#"<form method="post" action="https://rappel.example.fr/r/k3Jd8fQ2xLmN7pRtV9wYbA/opt-out">"#));
    assert!(html.contains("Ne plus recevoir de SMS de Plomberie Martin"));
    assert!(html.contains("Plomberie Martin traite ces données, avec le service Rappel."));
    assert!(html.contains("vous rappeler après votre appel manqué"));
    assert!(html.contains("30 jours, puis suppression automatique"));
    assert!(html.contains("accès, rectification, effacement, limitation, portabilité et opposition (articles 15 à 21 du RGPD)"));
    assert!(html.contains("réclamation à la CNIL"));
}

#[test]
fn booked_link_shows_the_confirmation_instead_of_the_form() {
    let mut l = link();
    l.booking = Some(Booking {
        booking_id: "bkg_1".into(),
        slot: "2026-12-01T13:30:00Z".into(),
        name: None,
        message: None,
        callback_number: None,
        booked_at: "2026-11-27T18:00:00Z".into(),
    });
    let html = page(l, &FormState::default());
    assert!(html.contains("Plomberie Martin vous rappellera le mardi 1er décembre, 14:30."));
    // No booking form: the slots listed are to move the booking to, in a closed <details>.
    assert!(!html.contains("Être rappelé à ce moment-là"));
    let (before, change) = html.split_once("<details").unwrap();
    assert!(!before.contains(r#"type="radio""#));
    assert!(change.contains(r#"type="radio""#) && change.contains("/reschedule"));
    assert!(html.contains("/opt-out\">"));
    assert!(html.contains("CNIL"));
}

#[test]
fn opted_out_link_shows_the_opted_out_state() {
    let mut l = link();
    l.opted_out_at = Some("2026-11-27T18:00:00Z".into());
    let html = page(l, &FormState::default());
    assert!(html.contains("Vous ne recevrez plus de SMS de Plomberie Martin."));
    assert!(!html.contains(r#"type="radio""#));
    assert!(!html.contains("/opt-out\">"));
    assert!(html.contains("CNIL"));
}

#[test]
fn company_name_and_typed_values_are_escaped() {
    let mut ctx = context(link());
    ctx.account.company_name = "Dupont & <Fils>".into();
    let state = FormState {
        error: Some(FormError::Slot),
        name: "\"><script>alert(1)</script>".into(),
        message: "</textarea><b>".into(),
        phone_typed: true,
        chosen: None,
        notice: None,
    };
    let html = link_page(&ctx, now(), &state);
    assert!(html.contains("Dupont &#38; &#60;Fils&#62;"), "{html}");
    assert!(!html.contains("<script>"));
    assert!(!html.contains("</textarea><b>"));
    assert!(!html.contains("<Fils>"));
}

#[test]
fn no_slots_means_no_form() {
    let mut ctx = context(link());
    ctx.account.callback_hours.ranges.clear();
    let html = link_page(&ctx, now(), &FormState::default());
    assert!(html.contains("Aucun créneau de rappel"));
    assert!(!html.contains(r#"name="slot""#));
    assert!(html.contains("Ne plus recevoir de SMS de Plomberie Martin"));
}

#[test]
fn day_views_group_by_local_day() {
    let slots = slots::upcoming_slots(
        &account().callback_hours,
        account().timezone,
        account().holiday_zone,
        now(),
        60,
        7,
        30,
    );
    let days = day_views(&slots, Some(slots[19].start));
    assert_eq!(days[0].label, "lundi 30 novembre");
    assert_eq!(days[0].slots.len(), 18);
    assert_eq!(days[0].slots[6].time, "14:00");
    assert_eq!(days[1].label, "mardi 1er décembre");
    assert!(days[1].slots[1].checked);
    assert_eq!(
        days.iter()
            .flat_map(|d| &d.slots)
            .filter(|s| s.checked)
            .count(),
        1
    );
}

// ---------------------------------------------------------------- flows

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let store = FakeStore::with(link());
    let req = request("GET", &format!("/r/{TOKEN}"), "");
    let response = respond(
        &store,
        &keys(),
        &FakeEvents::default(),
        &FixedClock(now()),
        "https://rappel.example.fr",
        &req,
    )
    .await;
    assert_eq!(response.status(), 200);
    let h = response.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-robots-tag"], "noindex");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    );
    for response in [
        not_found(Lang::Fr),
        server_error(Lang::Fr),
        method_not_allowed(Lang::Fr, "POST"),
    ] {
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["content-security-policy"], CSP);
    }
    assert_eq!(
        method_not_allowed(Lang::Fr, "POST").headers()["allow"],
        "POST"
    );
}

#[tokio::test]
async fn unknown_expired_and_failing_links() {
    let events = FakeEvents::default();
    let other = "AAAAAAAAAAAAAAAAAAAAAA";
    let (status, _) = call(
        &FakeStore::with(link()),
        &events,
        request("GET", &format!("/r/{other}"), ""),
    )
    .await;
    assert_eq!(status, 404);
    let mut old = link();
    old.valid_until = "2026-11-27T18:29:59Z".into();
    let (status, body) = call(
        &FakeStore::with(old.clone()),
        &events,
        request("GET", &format!("/r/{TOKEN}"), ""),
    )
    .await;
    assert_eq!(status, 410);
    assert!(body.contains("Ce lien a expiré"));
    assert!(body.contains("Ne plus recevoir de SMS de Plomberie Martin"));
    let (status, _) = call(
        &FakeStore::with(old),
        &events,
        request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z",
        ),
    )
    .await;
    assert_eq!(status, 410);
    let mut edge = link();
    edge.valid_until = ts(now());
    let (status, _) = call(
        &FakeStore::with(edge),
        &events,
        request("GET", &format!("/r/{TOKEN}"), ""),
    )
    .await;
    assert_eq!(status, 200, "valid until the instant itself");
    let failing = FakeStore {
        fail: true,
        ..FakeStore::with(link())
    };
    let (status, body) = call(
        &failing,
        &events,
        request("GET", &format!("/r/{TOKEN}"), ""),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("Un problème est survenu"));
    let (status, _) = call(
        &FakeStore::with(link()),
        &events,
        request("PATCH", &format!("/r/{TOKEN}"), ""),
    )
    .await;
    assert_eq!(status, 405);
    assert!(events.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn booking_emits_callback_requested_once() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let body = "slot=2026-11-30T09%3A00%3A00Z&name=+Jean+Dupont+&message=Plut%C3%B4t+avant+midi";
    let (status, page) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}"), body),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Plomberie Martin vous rappellera le lundi 30 novembre, 10:00."));
    let booking = store.stored().booking.unwrap();
    assert!(booking.booking_id.starts_with("bkg_"));
    assert_eq!(booking.slot, "2026-11-30T09:00:00Z");
    assert_eq!(booking.name.as_deref(), Some("Jean Dupont"));
    assert_eq!(booking.booked_at, "2026-11-27T18:30:00Z");
    {
        let sent = events.0.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "CallbackRequested");
        assert_eq!(
            sent[0].1,
            json!({
                "booking_id": booking.booking_id,
                "account_id": "plomberie-martin",
                "slot": "2026-11-30T09:00:00Z",
                "slot_local": "lundi 30 novembre, 10:00",
                "timezone": "Europe/Paris",
                "name": "Jean Dupont",
                "message": "Plutôt avant midi",
                "message_id": "msg_0123",
                "provider": "twilio",
                "call_id": "CA42#dial",
                "caller": "+33 6•• •• •• 01",
                "callback_number": null,
                "booked_at": "2026-11-27T18:30:00Z",
                "consent": {"page_version": page_version(), "language": "fr"},
            })
        );
    }
    // Resubmission, even of another slot: same booking, no second event.
    let again = "slot=2026-11-30T10%3A00%3A00Z";
    let (status, page) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}"), again),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("vous rappellera le lundi 30 novembre, 10:00."));
    assert_eq!(store.stored().booking.unwrap(), booking);
    assert_eq!(events.0.lock().unwrap().len(), 1);
    // The page now shows the confirmation.
    let (_, page) = call(&store, &events, request("GET", &format!("/r/{TOKEN}"), "")).await;
    assert!(page.contains("vous rappellera le lundi 30 novembre, 10:00."));
}

#[tokio::test]
async fn concurrent_earlier_booking_is_shown_without_an_event() {
    // The link read shows no booking, but the conditional write finds one.
    let store = FakeStore {
        race: Some(Race::EarlierBooking),
        ..FakeStore::with(link())
    };
    let events = FakeEvents::default();
    let req = request(
        "POST",
        &format!("/r/{TOKEN}"),
        "slot=2026-11-30T09%3A00%3A00Z",
    );
    let response = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &req,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(events.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn opt_out_is_recorded_once_and_idempotent() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let path = format!("/r/{TOKEN}/opt-out");
    for _ in 0..2 {
        let (status, page) = call(&store, &events, request("POST", &path, "")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Vous ne recevrez plus de SMS de Plomberie Martin."));
        assert!(!page.contains(r#"type="radio""#));
    }
    assert_eq!(
        *store.opt_outs.lock().unwrap(),
        [("plomberie-martin".to_string(), "h4sh".to_string())]
    );
    assert_eq!(
        store.stored().opted_out_at.as_deref(),
        Some("2026-11-27T18:30:00Z")
    );
    let sent = events.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "OptedOut");
    assert_eq!(
        sent[0].1,
        json!({"account_id": "plomberie-martin", "message_id": "msg_0123", "source": "link", "cancelled": 1, "at": "2026-11-27T18:30:00Z"})
    );
    // A stale booking form afterwards books nothing.
    let (status, _) = call(
        &store,
        &events,
        request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z",
        ),
    )
    .await;
    assert_eq!(status, 409);
    assert!(store.stored().booking.is_none());
}

#[tokio::test]
async fn opt_out_works_on_an_expired_link() {
    let mut old = link();
    old.valid_until = "2026-11-01T00:00:00Z".into();
    let store = FakeStore::with(old);
    let events = FakeEvents::default();
    let (status, page) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}/opt-out"), ""),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Vous ne recevrez plus de SMS de Plomberie Martin."));
    assert_eq!(events.0.lock().unwrap().len(), 1);
}

fn optout_link_item(expires_at: i64) -> OptOutLinkItem {
    OptOutLinkItem {
        pk: format!("LINK#{TOKEN}"),
        sk: "OPTOUT".into(),
        account_id: "plomberie-martin".into(),
        message_id: "msg_0123".into(),
        caller_hash: "h4sh".into(),
        opted_out_at: None,
        expires_at,
    }
}

#[tokio::test]
async fn the_sms_opt_out_link_asks_for_a_confirmation_then_opts_out() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let path = format!("/o/{TOKEN}");
    // A link preview fetching the URL opts nobody out.
    let (status, page) = call(&store, &events, request("GET", &path, "")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!(r#"action="https://rappel.example.fr/o/{TOKEN}""#)),
        "{page}"
    );
    assert!(store.opt_outs.lock().unwrap().is_empty());
    let (status, page) = call(&store, &events, request("POST", &path, "")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Vous ne recevrez plus de SMS de Plomberie Martin."));
    assert_eq!(store.opt_outs.lock().unwrap().len(), 1);
    assert_eq!(
        store.stored().opted_out_at.as_deref(),
        Some("2026-11-27T18:30:00Z")
    );
    // Afterwards the link says so, without a button.
    let (_, page) = call(&store, &events, request("GET", &path, "")).await;
    assert!(
        page.contains("est noté") && !page.contains("<form"),
        "{page}"
    );
    assert_eq!(events.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn opting_out_works_after_the_booking_link_is_gone_until_the_opt_out_link_expires() {
    let live = (now() + chrono::Duration::days(300)).timestamp();
    for path in [format!("/o/{TOKEN}"), format!("/r/{TOKEN}/opt-out")] {
        let store = FakeStore {
            account: Some(account()),
            optout_link: Mutex::new(Some(optout_link_item(live))),
            ..FakeStore::default()
        };
        let events = FakeEvents::default();
        let (status, page) = call(&store, &events, request("POST", &path, "")).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("Vous ne recevrez plus de SMS de Plomberie Martin."));
        assert_eq!(
            *store.opt_outs.lock().unwrap(),
            [("plomberie-martin".to_string(), "h4sh".to_string())]
        );
        assert_eq!(events.0.lock().unwrap()[0].1["source"], "link");
        // Twice: recorded once.
        call(&store, &events, request("POST", &path, "")).await;
        assert_eq!(events.0.lock().unwrap().len(), 1, "{path}");
    }
    // Expired but not yet deleted by DynamoDB's TTL: unknown.
    let store = FakeStore {
        account: Some(account()),
        optout_link: Mutex::new(Some(optout_link_item(now().timestamp()))),
        ..FakeStore::default()
    };
    let events = FakeEvents::default();
    let (status, _) = call(&store, &events, request("POST", &format!("/o/{TOKEN}"), "")).await;
    assert_eq!(status, 404);
    assert!(store.opt_outs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_opt_out_whose_event_failed_is_done_again_in_full_on_retry() {
    // The booking link is gone; the tombstone is written, then the event fails.
    let store = FakeStore {
        account: Some(account()),
        optout_link: Mutex::new(Some(optout_link_item(
            (now() + chrono::Duration::days(300)).timestamp(),
        ))),
        ..FakeStore::default()
    };
    let events = FlakyEvents(Mutex::new(1), FakeEvents::default());
    let post = || request("POST", &format!("/o/{TOKEN}"), "");
    let first = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &post(),
    )
    .await;
    assert_eq!(first.status(), 500);
    assert_eq!(
        store.opt_outs.lock().unwrap().len(),
        1,
        "the opt-out holds whatever fails next"
    );
    let retry = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &post(),
    )
    .await;
    assert_eq!(retry.status(), 200);
    let told = events.1.0.lock().unwrap().clone();
    assert_eq!(told.len(), 1, "the business is told on the retry");
    assert_eq!(told[0].1["source"], "link");
    assert!(
        store
            .optout_link
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .opted_out_at
            .is_some()
    );
}

#[tokio::test]
async fn a_link_used_again_after_the_opt_out_was_removed_records_it_again() {
    let mut used = link();
    used.opted_out_at = Some("2026-11-20T10:00:00Z".into());
    let store = FakeStore::with(used);
    let events = FakeEvents::default();
    // The operator removed the opt-out (`rappel-admin opt-out remove`): no tombstone.
    let (status, page) = call(&store, &events, request("GET", &format!("/o/{TOKEN}"), "")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("/o/{TOKEN}")),
        "the button is offered again"
    );
    for path in [format!("/o/{TOKEN}"), format!("/r/{TOKEN}/opt-out")] {
        store.opt_outs.lock().unwrap().clear();
        let (status, _) = call(&store, &events, request("POST", &path, "")).await;
        assert_eq!(status, 200);
        assert_eq!(store.opt_outs.lock().unwrap().len(), 1, "{path}");
    }
    assert_eq!(events.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_booking_keeps_its_consent_record_and_a_visit_is_a_contact() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let (_, page) = call(&store, &events, request("GET", &format!("/r/{TOKEN}"), "")).await;
    let consent = consent_text(Lang::Fr, "Plomberie Martin");
    assert!(page.contains(&consent), "the consent line is shown");
    let (status, _) = call(
        &store,
        &events,
        request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z",
        ),
    )
    .await;
    assert_eq!(status, 200);
    let records = store.records.lock().unwrap().clone();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        record.sk,
        format!("BOOKING#h4sh#{}", record.booking.booking_id)
    );
    assert_eq!(record.booking.slot, "2026-11-30T09:00:00Z");
    let kept = record.consent.as_ref().unwrap();
    assert_eq!(
        (kept.text.as_str(), kept.language.as_str()),
        (consent.as_str(), "fr")
    );
    assert_eq!(kept.page_version, page_version());
    assert_eq!(kept.page_version.len(), 16);
    assert_eq!(
        record.expires_at,
        (now() + chrono::Duration::days(3 * 365)).timestamp()
    );
    drop(records);
    // A later visit of the link refreshes the last contact.
    let later = FixedClock(now() + chrono::Duration::days(2));
    respond(
        &store,
        &keys(),
        &events,
        &later,
        "https://rappel.example.fr",
        &request("GET", &format!("/r/{TOKEN}"), ""),
    )
    .await;
    assert_eq!(
        store.records.lock().unwrap()[0].last_contact_at,
        "2026-11-29T18:30:00Z"
    );
}

#[tokio::test]
async fn a_slot_filled_between_reading_and_booking_offers_the_remaining_slots() {
    // Both prospects read the slot free; the other one's booking lands first.
    let store = FakeStore {
        race: Some(Race::SlotTaken),
        ..FakeStore::with(link())
    };
    let events = FakeEvents::default();
    let req = request(
        "POST",
        &format!("/r/{TOKEN}"),
        "slot=2026-11-30T09%3A00%3A00Z&name=Camille",
    );
    let response = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &req,
    )
    .await;
    assert_eq!(response.status(), 409);
    let page = match response.body() {
        Body::Text(t) => t.clone(),
        other => String::from_utf8_lossy(other.as_ref()).into_owned(),
    };
    assert!(page.contains("vient d&#39;être pris"), "{page}");
    assert!(
        !page.contains(r#"value="2026-11-30T09:00:00Z""#),
        "the full slot is not offered again"
    );
    assert!(
        page.contains(r#"value="2026-11-30T09:30:00Z""#),
        "the next ones are"
    );
    assert!(
        page.contains(r#"value="Camille""#),
        "what was typed is kept"
    );
    assert!(events.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_booking_is_moved_then_cancelled_until_its_slot_starts_and_the_business_is_told() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let form = |path: &str, body: &str| request("POST", &format!("/r/{TOKEN}{path}"), body);
    let (status, _) = call(&store, &events, form("", "slot=2026-11-30T09%3A00%3A00Z")).await;
    assert_eq!(status, 200);
    // The confirmation offers the change.
    let (_, page) = call(&store, &events, request("GET", &format!("/r/{TOKEN}"), "")).await;
    assert!(
        page.contains(&format!("/r/{TOKEN}/reschedule"))
            && page.contains(&format!("/r/{TOKEN}/cancel"))
    );
    assert!(
        !page.contains(r#"value="2026-11-30T09:00:00Z""#),
        "the current slot is not offered to move to"
    );
    let (status, page) = call(
        &store,
        &events,
        form("/reschedule", "slot=2026-11-30T10%3A00%3A00Z"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("vous rappellera le lundi 30 novembre, 11:00."),
        "{page}"
    );
    assert_eq!(store.stored().booking.unwrap().slot, "2026-11-30T10:00:00Z");
    let slots = store.slots.lock().unwrap().clone();
    assert_eq!(
        (slots["2026-11-30T09:00:00Z"], slots["2026-11-30T10:00:00Z"]),
        (0, 1)
    );
    let (status, page) = call(&store, &events, form("/cancel", "")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Votre rappel est annulé"));
    assert!(
        page.contains(r#"value="2026-11-30T10:00:00Z""#),
        "its slot is free again"
    );
    assert!(store.stored().booking.is_none());
    assert!(
        store.records.lock().unwrap()[0].cancelled_at.is_some(),
        "kept as evidence"
    );
    let told: Vec<(String, serde_json::Value)> = events.0.lock().unwrap().clone();
    let kinds: Vec<&str> = told.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CallbackRequested",
            "CallbackRescheduled",
            "CallbackCancelled"
        ]
    );
    assert_eq!(told[1].1["previous_slot"], "2026-11-30T09:00:00Z");
    assert_eq!(told[1].1["slot"], "2026-11-30T10:00:00Z");
    assert_eq!(told[2].1["booking_id"], told[0].1["booking_id"]);
    // Nothing left to cancel: the page as it is.
    let (status, _) = call(&store, &events, form("/cancel", "")).await;
    assert_eq!(status, 409);
    assert_eq!(events.0.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_booking_whose_slot_has_started_cannot_be_changed() {
    let mut booked = link();
    booked.booking = Some(Booking {
        booking_id: "bkg_1".into(),
        slot: "2026-11-27T18:00:00Z".into(),
        name: None,
        message: None,
        callback_number: None,
        booked_at: "2026-11-27T10:00:00Z".into(),
    });
    let store = FakeStore::with(booked);
    let events = FakeEvents::default();
    let (_, page) = call(&store, &events, request("GET", &format!("/r/{TOKEN}"), "")).await;
    assert!(!page.contains("/cancel") && !page.contains("/reschedule"));
    let (status, _) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}/cancel"), ""),
    )
    .await;
    assert_eq!(status, 409);
    assert!(store.stored().booking.is_some() && events.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused_and_pages_carry_hsts() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let post = |headers: &[(&str, &str)]| {
        let mut req = request("POST", &format!("/r/{TOKEN}/opt-out"), "");
        for (name, value) in headers {
            req.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        req
    };
    for attack in [
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "Cross-Site"),
            ("origin", "https://evil.example"),
        ],
    ] {
        let (status, _) = call(&store, &events, post(&attack)).await;
        assert_eq!(status, 403, "{attack:?}");
    }
    assert!(store.opt_outs.lock().unwrap().is_empty());
    // Our own form, as Chrome posts it under `Referrer-Policy: no-referrer`.
    let same = post(&[("sec-fetch-site", "same-origin"), ("origin", "null")]);
    let response = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &same,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(store.opt_outs.lock().unwrap().len(), 1);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[test]
fn call_sk_split() {
    assert_eq!(
        split_call_sk("CALL#twilio#CA1#dial"),
        Some(("twilio", "CA1#dial"))
    );
    assert_eq!(split_call_sk("CALL#generic#42"), Some(("generic", "42")));
    assert_eq!(split_call_sk("MSG#x"), None);
    assert_eq!(split_call_sk("CALL#nohash"), None);
}

#[tokio::test]
async fn a_forged_form_cannot_book_beyond_what_the_page_offers() {
    // The page shows 7 days from Friday 27 November; a slot on the grid 11 days ahead, or one
    // after the link stops working, is refused.
    let mut short = link();
    short.valid_until = "2026-11-30T09:15:00Z".into();
    for (l, slot) in [
        (link(), "2026-12-08T09:00:00Z"),
        (short, "2026-11-30T09:30:00Z"),
    ] {
        let store = FakeStore::with(l);
        let events = FakeEvents::default();
        let body = format!("slot={}", slot.replace(':', "%3A"));
        let (status, page) = call(
            &store,
            &events,
            request("POST", &format!("/r/{TOKEN}"), &body),
        )
        .await;
        assert_eq!(status, 422, "{slot}");
        assert!(page.contains("plus disponible"));
        assert!(store.stored().booking.is_none() && events.0.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn more_than_twenty_form_posts_on_one_link_in_ten_minutes_are_refused() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let post = || request("POST", &format!("/r/{TOKEN}/cancel"), "");
    for _ in 0..20 {
        let (status, _) = call(&store, &events, post()).await;
        assert_eq!(status, 409, "nothing to cancel, but not limited");
    }
    let response = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &post(),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "600");
    // The next window starts afresh; pages (GET) are never limited.
    let later = FixedClock(now() + chrono::Duration::minutes(10));
    let response = respond(
        &store,
        &keys(),
        &events,
        &later,
        "https://rappel.example.fr",
        &post(),
    )
    .await;
    assert_eq!(response.status(), 409);
    let (status, _) = call(&store, &events, request("GET", &format!("/r/{TOKEN}"), "")).await;
    assert_eq!(status, 200);
    assert_eq!(
        rate_window(now()),
        Utc.with_ymd_and_hms(2026, 11, 27, 18, 30, 0).unwrap()
    );
    assert_eq!(
        rate_window(now() + chrono::Duration::minutes(9)),
        Utc.with_ymd_and_hms(2026, 11, 27, 18, 30, 0).unwrap()
    );
}

// ---------------------------------------------------------------- languages

fn with_language(mut req: Request, accept_language: &str) -> Request {
    req.headers_mut().insert(
        lambda_http::http::header::ACCEPT_LANGUAGE,
        HeaderValue::from_str(accept_language).unwrap(),
    );
    req
}

#[tokio::test]
async fn the_page_is_in_english_when_the_browser_prefers_it() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let get = || request("GET", &format!("/r/{TOKEN}"), "");
    let response = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &with_language(get(), "en-GB,en;q=0.9,fr;q=0.8"),
    )
    .await;
    assert_eq!(response.headers()["content-language"], "en");
    assert_eq!(response.headers()["vary"], "Accept-Language");
    let (status, html) = call(
        &store,
        &events,
        with_language(get(), "en-GB,en;q=0.9,fr;q=0.8"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(html.contains("<h1>When would you like to be called back?</h1>"));
    assert!(html.contains("<legend>Monday 30 November</legend>"));
    assert!(html.contains("By confirming, you ask Plomberie Martin to call you back"));
    assert!(html.contains(r#"<input type="hidden" name="lang" value="en">"#));
    assert!(html.contains("Stop text messages from Plomberie Martin"));
    assert!(html.contains("GDPR articles 15 to 21"));
    for french in [
        "créneau",
        "rappelé",
        "Vos données",
        "lundi",
        "facultatif",
        "Ne plus",
    ] {
        assert!(!html.contains(french), "{french} in the English page");
    }
    // A French browser, or none: French.
    let (_, html) = call(
        &store,
        &events,
        with_language(get(), "fr-FR,fr;q=0.9,en;q=0.8"),
    )
    .await;
    assert!(html.contains("<html lang=\"fr\">") && html.contains("lundi 30 novembre"));
    let (_, html) = call(&store, &events, get()).await;
    assert!(html.contains("<html lang=\"fr\">"));
    // Error pages too.
    let (status, html) = call(
        &store,
        &events,
        with_language(request("GET", "/r/AAAAAAAAAAAAAAAAAAAAAA", ""), "en"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(html.contains("<html lang=\"en\">") && html.contains("Link not found"));
}

#[tokio::test]
async fn an_english_booking_records_the_english_consent_line_it_showed() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    // The form says which language it was shown in; that is the consent line recorded.
    let req = with_language(
        request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z&lang=en",
        ),
        "en-US,en;q=0.9",
    );
    let (status, html) = call(&store, &events, req).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Your request is booked</h1>"));
    assert!(html.contains("Plomberie Martin will call you back on Monday 30 November, 10:00."));
    let record = store.records.lock().unwrap()[0].clone();
    let consent = record.consent.unwrap();
    assert_eq!(consent.language, "en");
    assert_eq!(consent.text, consent_text(Lang::En, "Plomberie Martin"));
    assert!(
        consent
            .text
            .starts_with("By confirming, you ask Plomberie Martin")
    );
    let sent = events.0.lock().unwrap();
    assert_eq!(sent[0].1["consent"]["language"], "en");
    // The business's label stays in its own language.
    assert_eq!(sent[0].1["slot_local"], "lundi 30 novembre, 10:00");
}

// ---------------------------------------------------------------- another number

const OTHER: &str = "slot=2026-11-30T09%3A00%3A00Z&phone=06+00+00+00+07";

#[tokio::test]
async fn another_number_is_sealed_kept_apart_and_given_to_the_business_sealed() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let (status, html) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}"), OTHER),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    // Shown masked, never in clear.
    assert!(html.contains(
        "Plomberie Martin vous rappellera le lundi 30 novembre, 10:00, au +33 6•• •• •• 07."
    ));
    let booking = store.stored().booking.unwrap();
    assert_eq!(booking.callback_number.as_deref(), Some("+33 6•• •• •• 07"));
    let numbers = store.numbers.lock().unwrap().clone();
    assert_eq!(numbers.len(), 1);
    let n = &numbers[0];
    assert_eq!(n.sk, format!("NUMBER#h4sh#{}", booking.booking_id));
    assert_eq!(
        n.number,
        format!("cb-{}", rappel::fake::FakeKeys::seal_text("+33600000007"))
    );
    // A week after the link's last day (valid until 4 December 18:30 UTC).
    assert_eq!(
        n.expires_at,
        Utc.with_ymd_and_hms(2026, 12, 11, 18, 30, 0)
            .unwrap()
            .timestamp()
    );
    let sent = events.0.lock().unwrap();
    assert_eq!(
        sent[0].1["callback_number"],
        json!({"masked": "+33 6•• •• •• 07", "sealed": n.number})
    );
    // No clear number anywhere the business or a person reads.
    for text in [
        html.clone(),
        sent[0].1.to_string(),
        format!("{:?}", store.records.lock().unwrap()),
    ] {
        assert_eq!(
            rappel::fake::find_number(&text, &["+33600000007"]),
            None,
            "{text}"
        );
    }
}

#[tokio::test]
async fn another_number_must_be_one_a_person_answers_in_an_allowed_country() {
    let (logs, _guard) = rappel::fake::capture_logs();
    for (typed, error, why) in [
        ("12", FormError::PhoneInvalid, "too short"),
        ("anonymous", FormError::PhoneInvalid, "not a number"),
        (
            "+33 6 39 98 00 00",
            FormError::PhoneInvalid,
            "fiction range, invalid",
        ),
        (&"0".repeat(40), FormError::PhoneInvalid, "too long"),
        (
            "08 99 00 00 01",
            FormError::PhoneNotCallable,
            "premium rate",
        ),
        (
            "+32 470 00 00 01",
            FormError::PhoneNotCallable,
            "country not allowed",
        ),
    ] {
        let store = FakeStore::with(link());
        let events = FakeEvents::default();
        let faults = rappel::fake::Faults::new();
        let body = serde_urlencoded::to_string([
            ("slot", "2026-11-30T09:00:00Z"),
            ("name", "Camille"),
            ("phone", typed),
        ])
        .unwrap();
        let response = respond(
            &store,
            &rappel::fake::FakeKeys::new(faults.clone()),
            &events,
            &FixedClock(now()),
            "https://rappel.example.fr",
            &request("POST", &format!("/r/{TOKEN}"), &body),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        let Body::Text(html) = response.body() else {
            panic!("text body")
        };
        assert!(
            html.contains(&html_escape(error.message(Lang::Fr))),
            "{why}"
        );
        assert!(html.contains(r#"aria-invalid="true""#), "{why}");
        // The typed values are kept to fix, the slot still chosen; the number is not sent
        // back (the field is empty).
        assert!(html.contains(r#"value="Camille""#), "{why}");
        assert_eq!(markup(html).matches(" checked").count(), 1, "{why}");
        assert!(
            !html.contains(&format!("value=\"{typed}\"")),
            "{why}: the typed number echoed"
        );
        assert!(
            html.contains(r#"inputmode="tel" aria-invalid="true""#),
            "{why}: the field, empty"
        );
        assert_eq!(store.stored().booking, None, "{why}");
        assert!(store.numbers.lock().unwrap().is_empty(), "{why}");
        assert!(faults.calls().is_empty(), "{why}: no KMS call");
        assert!(events.0.lock().unwrap().is_empty(), "{why}");
    }
    // Refused forms are logged by their reason, never with the number.
    assert!(logs.text().contains("booking form refused"));
    assert_eq!(
        rappel::fake::find_number(&logs.text(), &["+33899000001", "+32470000001"]),
        None
    );
    // Allowed when the account calls that country.
    let mut belgium = account();
    belgium.allowed_countries.push("BE".into());
    assert!(callback_number("+32 470 00 00 01", &belgium, "FR").is_ok());
    // A Réunion prospect types their national notation.
    let e164 = callback_number("0692 00 00 07", &account(), "RE").unwrap();
    assert_eq!(e164.expose(), "+262692000007");
    // A national notation of another zone the account calls: where it is valid.
    let e164 = callback_number("06 00 00 00 07", &account(), "RE").unwrap();
    assert_eq!(
        e164.expose(),
        "+33600000007",
        "a mainland mobile typed in Réunion"
    );
    let e164 = callback_number("0692 00 00 07", &account(), "FR").unwrap();
    assert_eq!(
        e164.expose(),
        "+262692000007",
        "a Réunion mobile typed in mainland France"
    );
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('\'', "&#39;")
        .replace('"', "&#34;")
}

#[tokio::test]
async fn a_number_that_cannot_be_sealed_books_nothing() {
    let (logs, _guard) = rappel::fake::capture_logs();
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let faults = rappel::fake::Faults::new();
    faults.always("kms.GenerateDataKey", rappel::fake::FaultMode::Before);
    let response = respond(
        &store,
        &rappel::fake::FakeKeys::new(faults.clone()),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &request("POST", &format!("/r/{TOKEN}"), OTHER),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(store.stored().booking, None);
    assert!(store.records.lock().unwrap().is_empty());
    assert!(store.numbers.lock().unwrap().is_empty());
    assert!(events.0.lock().unwrap().is_empty());
    // The retry, once KMS answers, books with the number.
    faults.clear();
    let (status, _) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}"), OTHER),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(store.numbers.lock().unwrap().len(), 1);
    // The failure and the booking are logged, the number never.
    let text = logs.text();
    assert!(
        text.contains("booking request failed") && text.contains("callback booked"),
        "{text}"
    );
    assert_eq!(rappel::fake::find_number(&text, &["+33600000007"]), None);
}

#[tokio::test]
async fn another_number_goes_with_a_withdrawn_or_cancelled_booking() {
    // The business could not be told: the booking and its number are withdrawn.
    let store = FakeStore::with(link());
    let events = FlakyEvents(Mutex::new(1), FakeEvents::default());
    let post = request("POST", &format!("/r/{TOKEN}"), OTHER);
    let response = respond(
        &store,
        &keys(),
        &events,
        &FixedClock(now()),
        "https://rappel.example.fr",
        &post,
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(store.stored().booking, None);
    assert!(
        store.numbers.lock().unwrap().is_empty(),
        "withdrawn with it"
    );
    // Booked, then cancelled by the prospect: the number has no use left.
    let events = FakeEvents::default();
    let (status, _) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}"), OTHER),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(store.numbers.lock().unwrap().len(), 1);
    let (status, html) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}/cancel"), ""),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        store.numbers.lock().unwrap().is_empty(),
        "cancelled with it"
    );
}

#[tokio::test]
async fn a_number_typed_with_another_error_is_asked_again_never_echoed() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let body = serde_urlencoded::to_string([
        ("slot", "2026-11-30T09:00:00Z"),
        ("name", &"x".repeat(NAME_MAX + 1)),
        ("phone", "07 50 00 00 08"),
    ])
    .unwrap();
    let (status, html) = call(
        &store,
        &events,
        request("POST", &format!("/r/{TOKEN}"), &body),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(&html_escape(FormError::NameTooLong.message(Lang::Fr))));
    assert!(html.contains(&html_escape(Lang::Fr.texts().phone_again)));
    assert!(html.contains(r#"aria-describedby="phone-again""#));
    assert_eq!(
        rappel::fake::find_number(&html, &["+33750000008"]),
        None,
        "the number is not sent back"
    );
    // The raw form's Debug never prints it either.
    let raw = RawForm::parse(body.as_bytes());
    assert!(!format!("{raw:?}").contains("750000008"));
}

#[tokio::test]
async fn a_resubmission_that_changes_the_number_is_refused_and_says_how() {
    let store = FakeStore::with(link());
    let events = FakeEvents::default();
    let post = |body: &str| request("POST", &format!("/r/{TOKEN}"), body);
    let (status, _) = call(&store, &events, post("slot=2026-11-30T09%3A00%3A00Z")).await;
    assert_eq!(status, 200);
    // The same form again: the booking as it holds.
    let (status, _) = call(&store, &events, post("slot=2026-11-30T09%3A00%3A00Z")).await;
    assert_eq!(status, 200);
    // With a number it does not hold: 409, the number not taken, the way to change it said.
    let (status, html) = call(&store, &events, post(OTHER)).await;
    assert_eq!(status, 409);
    assert!(html.contains(&html_escape(FormError::AlreadyBooked.message(Lang::Fr))));
    assert_eq!(store.stored().booking.unwrap().callback_number, None);
    assert!(store.numbers.lock().unwrap().is_empty());
    assert_eq!(events.0.lock().unwrap().len(), 1, "told once");
    // A booking made with a number, posted again with the same number: as it holds.
    let store = FakeStore::with(link());
    let (status, _) = call(&store, &events, post(OTHER)).await;
    assert_eq!(status, 200);
    let (status, _) = call(&store, &events, post(OTHER)).await;
    assert_eq!(status, 200);
    // Raced by another tab (Held) with a different number: 409 too.
    let store = FakeStore {
        race: Some(Race::EarlierBooking),
        ..FakeStore::with(link())
    };
    let (status, _) = call(&store, &events, post(OTHER)).await;
    assert_eq!(status, 409);
}
