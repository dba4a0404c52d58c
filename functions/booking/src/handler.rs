//! The booking page (rule 8, docs/architecture.md): `GET /r/{token}` shows the callback slots, `POST /r/{token}`
//! books one (`CallbackRequested`), `POST /r/{token}/opt-out` stops the SMS (`OptedOut`).
//! `GET /o/{token}` is the short opt-out link an SMS carries (`{optout}`): it asks for a
//! confirmation (link previews fetch URLs), `POST /o/{token}` opts out. Both opt-out actions
//! keep working for a year after the booking link expired (the `LINK#…/OPTOUT` item).
//!
//! Everything is server-rendered HTML that works without JavaScript. The handler never fails:
//! an AWS error becomes a 500 page and a log line that names the service, never the person.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use rappel::account::Account;
use rappel::aws::Table;
use rappel::funnel::{self, Step};
use rappel::items::{
    Booking, BookingItem, CALL_PREFIX, CallbackNumberItem, LinkItem, OptOutSource, RATE_LIMIT,
    RATE_WINDOW_MINUTES, RETENTION_DAYS, account_pk, booking_sk, callback_number_sk, ts,
};
use rappel::ports::{CallbackNumberSealer, Clock, EventPublisher, PortError};
use rappel::retention;
use rappel::slots::{self, Slot};
use rappel::store::BookOutcome;
use std::convert::Infallible;

pub use crate::form::*;
pub use crate::lang::Lang;
pub use crate::pages::*;
pub use crate::routing::*;
pub use crate::store::*;

/// Minimum notice before an offered slot, minutes.
pub const LEAD_MINUTES: i64 = 60;
/// Local days of slots shown on the page (today included).
pub const DAYS_SHOWN: u32 = 7;
/// Most slots shown on the page.
pub const MAX_SLOTS: usize = 30;

/// What the booking function needs, built once per cold start by `main`.
pub struct Deps<K: CallbackNumberSealer, E: EventPublisher, C: Clock> {
    pub table: Table,
    /// Seals another number a prospect asks to be called on (KMS `GenerateDataKey`, context
    /// `account_id` + `purpose=callback-number`).
    pub keys: K,
    pub events: E,
    pub clock: C,
    /// `PUBLIC_BASE_URL` without trailing slash: base of the page's form actions when the
    /// account has no `booking_base_url`.
    pub public_base_url: String,
}

/// Answer one API Gateway request. Never errors: failures become an HTML error page.
pub async fn handle<K: CallbackNumberSealer, E: EventPublisher, C: Clock>(
    deps: &Deps<K, E, C>,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    Ok(respond(
        &deps.table,
        &deps.keys,
        &deps.events,
        &deps.clock,
        &deps.public_base_url,
        &req,
    )
    .await)
}

// ------------------------------------------------------------------------------- handling

/// [`handle`] over the narrow ports: routes, reads the link and account, and answers in the
/// language the browser prefers ([`Lang::negotiate`]).
pub async fn respond<S: BookingStore, K: CallbackNumberSealer, E: EventPublisher, C: Clock>(
    store: &S,
    keys: &K,
    events: &E,
    clock: &C,
    public_base_url: &str,
    req: &Request,
) -> Response<Body> {
    let route = route(req.method(), req.uri().path());
    let now = clock.now();
    let lang = Lang::negotiate(
        req.headers()
            .get(lambda_http::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    if req.method() == Method::POST && is_cross_site(req) {
        tracing::warn!("cross-site form post refused");
        return forbidden(lang);
    }
    // Per-link rate limit on form posts (API Gateway limits each route as a whole). Fails
    // open: an error counting never blocks a prospect.
    let posted_token = match &route {
        Route::Book(t)
        | Route::OptOut(t)
        | Route::Reschedule(t)
        | Route::Cancel(t)
        | Route::OptOutConfirm(t) => Some(t.as_str()),
        _ => None,
    };
    if let Some(token) = posted_token {
        match store.rate_hit(token, rate_window(now)).await {
            Ok(n) if n > RATE_LIMIT => {
                tracing::warn!(posts = n, "too many form posts on one link");
                return too_many_requests(lang);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "form posts not counted"),
        }
    }
    let visit = |token: &'_ str| Visit {
        public_base_url: public_base_url.to_string(),
        token: token.to_string(),
        lang,
        now,
    };
    let body = req.body().as_ref();
    let result = match route {
        Route::NotFound => return not_found(lang),
        Route::MethodNotAllowed(allow) => return method_not_allowed(lang, allow),
        Route::Page(token) => show(store, &visit(&token)).await,
        Route::Book(token) => book(store, keys, events, &visit(&token), body).await,
        Route::OptOut(token) => opt_out(store, events, &visit(&token)).await,
        Route::Reschedule(token) => reschedule(store, events, &visit(&token), body).await,
        Route::Cancel(token) => cancel(store, events, &visit(&token)).await,
        Route::OptOutPage(token) => opt_out_page(store, &visit(&token)).await,
        Route::OptOutConfirm(token) => opt_out_confirm(store, events, &visit(&token)).await,
    };
    result.unwrap_or_else(|e| {
        tracing::error!(service = e.service, error = %e.message, "booking request failed");
        server_error(lang)
    })
}

/// One request on a link: its token, the language to answer in, and when.
struct Visit {
    /// `PUBLIC_BASE_URL`, used when the account has no `booking_base_url`.
    public_base_url: String,
    token: String,
    lang: Lang,
    now: DateTime<Utc>,
}

/// A link with its account, as the page needs them.
#[derive(Clone)]
struct Context {
    token: String,
    link: LinkItem,
    account: Account,
    /// Base URL of the page (the account's `booking_base_url`, else the deployment's).
    base_url: String,
    expired: bool,
    /// Slot starts at capacity (`callback_hours.slot_capacity`): not offered.
    full: Vec<DateTime<Utc>>,
    /// The language the pages are written in.
    lang: Lang,
}

impl Context {
    fn book_action(&self) -> String {
        format!("{}/r/{}", self.base_url, self.token)
    }
    fn opt_out_action(&self) -> String {
        format!("{}/r/{}/opt-out", self.base_url, self.token)
    }
    /// The prospect's zone (their number's region), else the business's: slots are shown in it.
    fn tz(&self) -> Tz {
        self.link
            .region
            .as_deref()
            .and_then(rappel::calendar::zone_for_region)
            .unwrap_or(self.account.timezone)
    }
}

/// The slot starts of `account` at capacity among those the page may offer from `now`.
async fn full_slots<S: BookingStore>(
    store: &S,
    account: &Account,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, PortError> {
    let horizon = now + chrono::Duration::days(i64::from(DAYS_SHOWN) + 1);
    let capacity = account.callback_hours.slot_capacity;
    Ok(store
        .slot_counts(&account.account_id, now, horizon)
        .await?
        .into_iter()
        .filter(|(_, count)| *count >= capacity)
        .map(|(start, _)| start)
        .collect())
}

/// The slots the page offers: the account's upcoming slots, minus the full ones.
/// The start of the rate-limit window holding `now` ([`RATE_WINDOW_MINUTES`] long).
pub fn rate_window(now: DateTime<Utc>) -> DateTime<Utc> {
    let secs = RATE_WINDOW_MINUTES * 60;
    DateTime::from_timestamp(now.timestamp() - now.timestamp().rem_euclid(secs), 0).unwrap_or(now)
}

/// Slots start before the link stops working (`valid_until`), so a booking can be moved or
/// cancelled from it until its slot starts.
fn offered_slots(
    account: &Account,
    full: &[DateTime<Utc>],
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Vec<Slot> {
    let mut offered = slots::upcoming_slots(
        &account.callback_hours,
        account.timezone,
        account.holiday_zone,
        now,
        LEAD_MINUTES,
        DAYS_SHOWN,
        MAX_SLOTS + full.len(),
    );
    offered.retain(|slot| !full.contains(&slot.start) && until.is_none_or(|u| slot.start < u));
    offered.truncate(MAX_SLOTS);
    offered
}

/// A valid form's slot must be one the page offers now (lead time, horizon, link validity,
/// capacity): a stale or forged form books nothing else.
fn on_offer(
    ctx: &Context,
    form: BookingForm,
    now: DateTime<Utc>,
) -> Result<BookingForm, FormError> {
    let until = parse_instant(&ctx.link.valid_until);
    if offered_slots(&ctx.account, &ctx.full, now, until)
        .iter()
        .any(|slot| slot.start == form.slot)
    {
        Ok(form)
    } else {
        Err(FormError::SlotNotOffered)
    }
}

/// Load link and account; `Err(response)` inside `Ok` for an unknown link or account.
async fn load<S: BookingStore>(
    store: &S,
    v: &Visit,
) -> Result<Result<Context, Response<Body>>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    let Some(link) = store.link(token).await? else {
        return Ok(Err(not_found(v.lang)));
    };
    let Some(account) = store.account(&link.account_id).await? else {
        tracing::warn!(account_id = %link.account_id, "link of an unknown account");
        return Ok(Err(not_found(v.lang)));
    };
    let expired = match parse_instant(&link.valid_until) {
        Some(valid_until) => now > valid_until,
        None => {
            tracing::warn!(message_id = %link.message_id, "link valid_until unreadable: treated as expired");
            true
        }
    };
    let base_url = account
        .booking_base_url
        .as_deref()
        .unwrap_or(&v.public_base_url)
        .trim_end_matches('/')
        .to_string();
    Ok(Ok(Context {
        token: token.to_string(),
        link,
        account,
        base_url,
        expired,
        full: Vec::new(),
        lang: v.lang,
    }))
}

/// `GET /r/{token}`.
async fn show<S: BookingStore>(store: &S, v: &Visit) -> Result<Response<Body>, PortError> {
    let now = v.now;
    let ctx = match load(store, v).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    let mut ctx = ctx;
    // Slots to book, or to move a booking to: the full ones are not offered.
    let lists_slots = ctx
        .link
        .booking
        .as_ref()
        .map_or(ctx.link.opted_out_at.is_none(), |b| can_change(b, now));
    if lists_slots {
        ctx.full = full_slots(store, &ctx.account, now).await?;
    }
    // The funnel's "link opened", once per SMS. Not worth an error page if it fails.
    match store
        .mark_opened(&ctx.account.account_id, &ctx.link.message_id, now)
        .await
    {
        Ok(true) => funnel::count(&ctx.account.account_id, Step::LinkOpened, None, now),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(message_id = %ctx.link.message_id, error = %e, "first opening not recorded")
        }
    }
    // A visit of the link is a contact: the prospect's bookings are kept 3 years from now
    // (README, "Retention"). Not worth an error page if it fails: the next visit does it.
    if ctx.link.booking.is_some()
        && let Err(e) = store
            .touch_bookings(&ctx.account.account_id, &ctx.link.caller_hash, now)
            .await
    {
        tracing::warn!(message_id = %ctx.link.message_id, error = %e, "bookings not touched");
    }
    Ok(page(&ctx, StatusCode::OK, now, &FormState::default()))
}

/// `POST /r/{token}`: validate the form, seal another number to call if one was given, book,
/// and tell the business (once). The consent recorded is the line of the language the form
/// was shown in (its `lang` field), else of the one negotiated now.
async fn book<S: BookingStore, K: CallbackNumberSealer, E: EventPublisher>(
    store: &S,
    keys: &K,
    events: &E,
    v: &Visit,
    body: &[u8],
) -> Result<Response<Body>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    let raw = RawForm::parse(body);
    let lang = raw
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or(v.lang);
    let v = &Visit {
        public_base_url: v.public_base_url.clone(),
        token: v.token.clone(),
        lang,
        now,
    };
    let ctx = match load(store, v).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    let region = ctx.link.region.clone().unwrap_or_else(|| "FR".into());
    // A resubmission (back button, double tap) shows the booking that holds; one that asks
    // for another number than it holds is told how to change it.
    if let Some(held) = &ctx.link.booking {
        return Ok(resubmitted(&ctx, held, &raw, &region, now));
    }
    // A stale form after an opt-out: nothing to book, show the opted-out state.
    if ctx.link.opted_out_at.is_some() {
        return Ok(page(&ctx, StatusCode::CONFLICT, now, &FormState::default()));
    }
    let mut ctx = ctx;
    ctx.full = full_slots(store, &ctx.account, now).await?;
    let form = match validate(&raw, &ctx.account, now, &ctx.full, &region)
        .and_then(|f| on_offer(&ctx, f, now))
    {
        Ok(form) => form,
        Err(error) => {
            tracing::info!(account_id = %ctx.account.account_id, error = %error, "booking form refused");
            let state = FormState {
                error: Some(error),
                name: raw.name.unwrap_or_default(),
                message: raw.message.unwrap_or_default(),
                phone_typed: raw.phone.as_deref().and_then(|p| clean(p, false)).is_some(),
                chosen: (!error.is_about_slot())
                    .then(|| raw.slot.as_deref().and_then(parse_instant))
                    .flatten(),
                notice: None,
            };
            return Ok(page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, now, &state));
        }
    };
    // Read what the event needs before booking: once booked, only the event is left to fail.
    let caller = store
        .caller_masked(&ctx.account.account_id, &ctx.link.message_id)
        .await?;
    let booking_id = rappel::crypto::new_id("bkg");
    // Another number to call: sealed before anything is written (a KMS failure books nothing).
    let number = match &form.callback_number {
        Some(e164) => Some(CallbackNumberItem {
            pk: account_pk(&ctx.account.account_id),
            sk: callback_number_sk(&ctx.link.caller_hash, &booking_id),
            account_id: ctx.account.account_id.clone(),
            caller_hash: ctx.link.caller_hash.clone(),
            booking_id: booking_id.clone(),
            number: keys
                .seal_callback_number(&ctx.account.account_id, e164)
                .await?,
            masked: e164.masked(),
            // A week after the latest slot this link can book (README, "Retention").
            expires_at: retention::expires(
                parse_instant(&ctx.link.valid_until).unwrap_or(now).max(now),
                retention::CALLBACK_NUMBER_DAYS,
            ),
        }),
        None => None,
    };
    let new = Booking {
        booking_id,
        slot: ts(form.slot),
        name: form.name,
        message: form.message,
        callback_number: number.as_ref().map(|n| n.masked.clone()),
        booked_at: ts(now),
    };
    let record = BookingItem {
        pk: account_pk(&ctx.account.account_id),
        sk: booking_sk(&ctx.link.caller_hash, &new.booking_id),
        account_id: ctx.account.account_id.clone(),
        caller_hash: ctx.link.caller_hash.clone(),
        message_id: ctx.link.message_id.clone(),
        call_sk: ctx.link.call_sk.clone(),
        booking: new.clone(),
        consent: Some(consent_record(lang, &ctx.account.company_name)),
        last_contact_at: ts(now),
        cancelled_at: None,
        rescheduled_at: None,
        expires_at: retention::expires(now, retention::BOOKING_DAYS),
    };
    let held = match store
        .book(
            token,
            &record,
            number.as_ref(),
            ctx.account.callback_hours.slot_capacity,
        )
        .await?
    {
        BookOutcome::Booked(booking) => booking,
        // Another tab or a double tap booked first: show that booking, tell nobody again.
        BookOutcome::Held(booking) => {
            let response = resubmitted(&ctx, &booking, &raw, &region, now);
            ctx.link.booking = Some(booking);
            return Ok(response);
        }
        // Someone took the last place meanwhile: the remaining slots, and why.
        BookOutcome::SlotFull => {
            tracing::info!(account_id = %ctx.account.account_id, "slot filled meanwhile");
            ctx.full.push(form.slot);
            let state = FormState {
                error: Some(FormError::SlotTaken),
                name: record.booking.name.clone().unwrap_or_default(),
                message: record.booking.message.clone().unwrap_or_default(),
                phone_typed: number.is_some(),
                chosen: None,
                notice: None,
            };
            return Ok(page(&ctx, StatusCode::CONFLICT, now, &state));
        }
    };
    {
        let detail = callback_requested_detail(
            &ctx.account,
            &ctx.link,
            &held,
            caller,
            number.as_ref(),
            lang,
        );
        if let Err(e) = rappel::events::publish(events, &detail).await {
            // The business was not told: withdraw the booking, so that nothing is half-done
            // and the prospect's retry books and tells again.
            tracing::error!(
                account_id = %ctx.account.account_id,
                message_id = %ctx.link.message_id,
                booking_id = %held.booking_id,
                service = e.service,
                error = %e.message,
                "CallbackRequested not published; booking withdrawn"
            );
            if let Err(undo) = store.unbook(token, &record).await {
                tracing::error!(booking_id = %held.booking_id, error = %undo, "booking stored but not announced: replay CallbackRequested by hand");
            }
            return Err(e);
        }
        tracing::info!(
            account_id = %ctx.account.account_id,
            message_id = %ctx.link.message_id,
            booking_id = %held.booking_id,
            other_number = number.is_some(),
            "callback booked"
        );
        funnel::count(&ctx.account.account_id, Step::SlotBooked, None, now);
    }
    ctx.link.booking = Some(held);
    Ok(page(&ctx, StatusCode::OK, now, &FormState::default()))
}

/// The answer to a booking form posted on a link already booked (`held`): the page as it
/// holds, or 409 with [`FormError::AlreadyBooked`] when the form gives another number than
/// the booking's (none, or a different one): that number is not taken.
fn resubmitted(
    ctx: &Context,
    held: &Booking,
    raw: &RawForm,
    region: &str,
    now: DateTime<Utc>,
) -> Response<Body> {
    let other = raw.phone.as_deref().and_then(|p| clean(p, false));
    let changes = other.is_some_and(
        |typed| match callback_number(&typed, &ctx.account, region) {
            Ok(e164) => held.callback_number.as_deref() != Some(e164.masked().as_str()),
            Err(_) => true,
        },
    );
    let mut ctx_held = ctx.clone();
    ctx_held.link.booking = Some(held.clone());
    if changes {
        let state = FormState {
            error: Some(FormError::AlreadyBooked),
            ..FormState::default()
        };
        page(&ctx_held, StatusCode::CONFLICT, now, &state)
    } else {
        page(&ctx_held, StatusCode::OK, now, &FormState::default())
    }
}

/// `POST /r/{token}/opt-out`. Honoured even on an expired link: opposition has no deadline
/// (RGPD art. 21); once the booking link is gone, through its opt-out link (a year). Idempotent:
/// a link already used to opt out changes nothing.
async fn opt_out<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    v: &Visit,
) -> Result<Response<Body>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    if store.link(token).await?.is_none() {
        return opt_out_confirm(store, events, v).await;
    }
    let mut ctx = match load(store, v).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    let (account_id, hash) = (ctx.account.account_id.clone(), ctx.link.caller_hash.clone());
    let done = ctx.link.opted_out_at.is_some() && store.is_opted_out(&account_id, &hash).await?;
    if !done {
        stop_sms(
            store,
            events,
            &account_id,
            &hash,
            &ctx.link.message_id,
            token,
            now,
        )
        .await?;
        ctx.link.opted_out_at.get_or_insert_with(|| ts(now));
    }
    Ok(page(&ctx, StatusCode::OK, now, &FormState::default()))
}

/// The keys of the booking record of `booking` on this link, for the table's updates.
fn booking_record(ctx: &Context, booking: &Booking) -> BookingItem {
    BookingItem {
        pk: account_pk(&ctx.account.account_id),
        sk: booking_sk(&ctx.link.caller_hash, &booking.booking_id),
        account_id: ctx.account.account_id.clone(),
        caller_hash: ctx.link.caller_hash.clone(),
        message_id: ctx.link.message_id.clone(),
        call_sk: ctx.link.call_sk.clone(),
        booking: booking.clone(),
        consent: None,
        last_contact_at: String::new(),
        cancelled_at: None,
        rescheduled_at: None,
        expires_at: 0,
    }
}

/// A cancellation (`CallbackCancelled`): what the business needs.
fn cancelled_event(
    ctx: &Context,
    booking: &Booking,
    now: DateTime<Utc>,
) -> rappel::events::CallbackCancelled {
    let (provider, call_id) = split_call_sk(&ctx.link.call_sk).unzip();
    rappel::events::CallbackCancelled {
        booking_id: booking.booking_id.clone(),
        account_id: ctx.account.account_id.clone(),
        slot: booking.slot.clone(),
        slot_local: parse_instant(&booking.slot)
            .map(|at| local_label(Lang::Fr, at, ctx.account.timezone)),
        timezone: ctx.account.timezone.name().to_string(),
        message_id: ctx.link.message_id.clone(),
        provider: provider.map(str::to_string),
        call_id: call_id.map(str::to_string),
        at: ts(now),
    }
}

/// `POST /r/{token}/reschedule`: move the booking to another offered slot, until it starts.
async fn reschedule<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    v: &Visit,
    body: &[u8],
) -> Result<Response<Body>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    let mut ctx = match load(store, v).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    let Some(current) = ctx.link.booking.clone().filter(|b| can_change(b, now)) else {
        // Nothing to move (cancelled, or the slot has started): the page as it is.
        return Ok(page(&ctx, StatusCode::CONFLICT, now, &FormState::default()));
    };
    ctx.full = full_slots(store, &ctx.account, now).await?;
    let raw = RawForm::parse(body);
    // Only the slot is read: the rest of the booking stays as it was.
    let raw = RawForm {
        slot: raw.slot,
        ..RawForm::default()
    };
    let region = ctx.link.region.as_deref().unwrap_or("FR");
    let slot = match validate(&raw, &ctx.account, now, &ctx.full, region)
        .and_then(|f| on_offer(&ctx, f, now))
    {
        Ok(form) => form.slot,
        Err(error) => {
            let state = FormState {
                error: Some(error),
                ..FormState::default()
            };
            return Ok(page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, now, &state));
        }
    };
    if ts(slot) == current.slot {
        return Ok(page(&ctx, StatusCode::OK, now, &FormState::default()));
    }
    let record = booking_record(&ctx, &current);
    let capacity = ctx.account.callback_hours.slot_capacity;
    let moved = match store
        .reschedule_booking(token, &record, slot, capacity, now)
        .await?
    {
        BookOutcome::Booked(moved) => moved,
        BookOutcome::Held(_) => {
            // Changed in another tab meanwhile: show what holds now.
            let ctx = match load(store, v).await? {
                Ok(ctx) => ctx,
                Err(response) => return Ok(response),
            };
            return Ok(page(&ctx, StatusCode::CONFLICT, now, &FormState::default()));
        }
        BookOutcome::SlotFull => {
            ctx.full.push(slot);
            let state = FormState {
                error: Some(FormError::SlotTaken),
                ..FormState::default()
            };
            return Ok(page(&ctx, StatusCode::CONFLICT, now, &state));
        }
    };
    let c = cancelled_event(&ctx, &moved, now);
    let detail = rappel::events::CallbackRescheduled {
        booking_id: c.booking_id,
        account_id: c.account_id,
        slot: c.slot,
        slot_local: c.slot_local,
        timezone: c.timezone,
        previous_slot: current.slot.clone(),
        message_id: c.message_id,
        provider: c.provider,
        call_id: c.call_id,
        at: c.at,
    };
    if let Err(e) = rappel::events::publish(events, &detail).await {
        // The business was not told: move it back, so the prospect's retry moves and tells.
        let back = parse_instant(&current.slot).unwrap_or(slot);
        // Back into its old slot only if it still has room (someone may have taken it).
        let undo = store
            .reschedule_booking(token, &booking_record(&ctx, &moved), back, capacity, now)
            .await;
        let undone = matches!(undo, Ok(BookOutcome::Booked(_)));
        tracing::error!(booking_id = %moved.booking_id, undone, error = %e, "CallbackRescheduled not published");
        if !undone {
            tracing::error!(booking_id = %moved.booking_id, "booking moved but not announced: replay CallbackRescheduled by hand");
        }
        return Err(e);
    }
    tracing::info!(account_id = %ctx.account.account_id, booking_id = %moved.booking_id, "callback rescheduled");
    funnel::count(&ctx.account.account_id, Step::Rescheduled, None, now);
    ctx.link.booking = Some(moved);
    ctx.full.clear();
    Ok(page(&ctx, StatusCode::OK, now, &FormState::default()))
}

/// `POST /r/{token}/cancel`: cancel the booking, until its slot starts. The business is told
/// first (an event a retry repeats is harmless: consumers key on `booking_id`), then the
/// booking goes, so a failure never leaves a cancellation the business does not know of.
async fn cancel<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    v: &Visit,
) -> Result<Response<Body>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    let mut ctx = match load(store, v).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    let Some(current) = ctx.link.booking.clone().filter(|b| can_change(b, now)) else {
        return Ok(page(&ctx, StatusCode::CONFLICT, now, &FormState::default()));
    };
    rappel::events::publish(events, &cancelled_event(&ctx, &current, now)).await?;
    if !store
        .cancel_booking(token, &booking_record(&ctx, &current), now)
        .await?
    {
        // Moved or cancelled in another tab meanwhile: what holds now.
        tracing::warn!(booking_id = %current.booking_id, "booking changed while cancelling");
        let ctx = match load(store, v).await? {
            Ok(ctx) => ctx,
            Err(response) => return Ok(response),
        };
        return Ok(page(&ctx, StatusCode::CONFLICT, now, &FormState::default()));
    }
    tracing::info!(account_id = %ctx.account.account_id, booking_id = %current.booking_id, "callback cancelled");
    funnel::count(&ctx.account.account_id, Step::Cancelled, None, now);
    ctx.link.booking = None;
    ctx.full = full_slots(store, &ctx.account, now).await?;
    let state = FormState {
        notice: Some(ctx.lang.texts().cancelled_notice),
        ..FormState::default()
    };
    Ok(page(&ctx, StatusCode::OK, now, &state))
}

/// Record the opt-out of `hash` from `account_id` (first: whatever fails next, the opt-out
/// holds), cancel their deferred messages, tell the business, and mark the links of `token`
/// as used. Every step is idempotent, and "already done" means *marked and the tombstone
/// exists*: a retry after any failure runs every step again, and a link used again after an
/// operator removed the opt-out records it again.
async fn stop_sms<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    account_id: &str,
    hash: &str,
    message_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let new = store.put_opt_out(account_id, hash, now).await?;
    let cancelled = store.cancel_pending(account_id, hash, now).await?;
    let event = rappel::events::OptedOut {
        account_id: account_id.to_string(),
        source: OptOutSource::Link.as_str().to_string(),
        message_id: Some(message_id.to_string()),
        inbound_message_id: None,
        cancelled: Some(cancelled),
        new: None,
        at: ts(now),
    };
    rappel::events::publish(events, &event).await?;
    store.mark_link_opted_out(token, now).await?;
    tracing::info!(%account_id, %message_id, cancelled, new, "opted out");
    // Counted once per person and account, as the table keeps it (rappel-admin report).
    if new {
        funnel::count(account_id, Step::OptedOut, None, now);
    }
    Ok(())
}

/// Who an opt-out link stops: the account and the prospect's hash, from the booking link or,
/// once it is gone, from the opt-out link kept beside it.
struct OptOutTarget {
    account: Account,
    hash: String,
    message_id: String,
    /// Whether the link (or the opt-out link) was already used to opt out.
    marked: bool,
    base_url: String,
}

async fn opt_out_target<S: BookingStore>(
    store: &S,
    v: &Visit,
) -> Result<Option<OptOutTarget>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    let link = store.link(token).await?;
    let (account_id, hash, message_id, marked) = match &link {
        Some(l) => (
            l.account_id.clone(),
            l.caller_hash.clone(),
            l.message_id.clone(),
            l.opted_out_at.is_some(),
        ),
        None => match store
            .optout_link(token)
            .await?
            // Expired but not yet deleted by DynamoDB: no longer valid.
            .filter(|o| retention::is_live(o.expires_at, now))
        {
            Some(o) => (
                o.account_id,
                o.caller_hash,
                o.message_id,
                o.opted_out_at.is_some(),
            ),
            None => return Ok(None),
        },
    };
    let Some(account) = store.account(&account_id).await? else {
        tracing::warn!(%account_id, "opt-out link of an unknown account");
        return Ok(None);
    };
    let base_url = account
        .booking_base_url
        .as_deref()
        .unwrap_or(&v.public_base_url)
        .trim_end_matches('/')
        .to_string();
    Ok(Some(OptOutTarget {
        account,
        hash,
        message_id,
        marked,
        base_url,
    }))
}

/// `GET /o/{token}`: the SMS's opt-out link asks for a confirmation (a link preview or a
/// security scanner fetching the URL must not opt anyone out).
async fn opt_out_page<S: BookingStore>(store: &S, v: &Visit) -> Result<Response<Body>, PortError> {
    let Some(target) = opt_out_target(store, v).await? else {
        return Ok(not_found(v.lang));
    };
    let (lang, t) = (v.lang, v.lang.texts());
    let company = &target.account.company_name;
    let done = store
        .is_opted_out(&target.account.account_id, &target.hash)
        .await?;
    let page = if done {
        NoticePage {
            lang: lang.code(),
            t,
            company: Some(company),
            heading: t.noted,
            text: t.no_more_sms_now(company),
            opt_out_action: None,
        }
    } else {
        NoticePage {
            lang: lang.code(),
            t,
            company: Some(company),
            heading: t.opt_out_heading,
            text: t.opt_out_confirm(company),
            opt_out_action: Some(format!("{}/o/{}", target.base_url, v.token)),
        }
    };
    Ok(html(lang, StatusCode::OK, render(lang, &page)))
}

/// `POST /o/{token}` (and `POST /r/{token}/opt-out` once the booking link is gone).
async fn opt_out_confirm<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    v: &Visit,
) -> Result<Response<Body>, PortError> {
    let (token, now) = (v.token.as_str(), v.now);
    let Some(target) = opt_out_target(store, v).await? else {
        return Ok(not_found(v.lang));
    };
    let account_id = &target.account.account_id;
    let done = target.marked && store.is_opted_out(account_id, &target.hash).await?;
    if !done {
        stop_sms(
            store,
            events,
            account_id,
            &target.hash,
            &target.message_id,
            token,
            now,
        )
        .await?;
    }
    let (lang, t) = (v.lang, v.lang.texts());
    let company = &target.account.company_name;
    let page = NoticePage {
        lang: lang.code(),
        t,
        company: Some(company),
        heading: t.noted,
        text: t.no_more_sms(company),
        opt_out_action: None,
    };
    Ok(html(lang, StatusCode::OK, render(lang, &page)))
}

/// The `CallbackRequested` detail: what the business needs to call back, the slot as a UTC
/// instant (`slot`) and in the business's zone (`slot_local`), and a reference to the consent
/// record kept with the booking. `caller` is the masked number (the business finds the call by `provider` + `call_id` in its telephony
/// platform); never a clear number.
pub fn callback_requested_detail(
    account: &Account,
    link: &LinkItem,
    booking: &Booking,
    caller: Option<String>,
    number: Option<&CallbackNumberItem>,
    lang: Lang,
) -> rappel::events::CallbackRequested {
    let (provider, call_id) = split_call_sk(&link.call_sk).unzip();
    rappel::events::CallbackRequested {
        booking_id: booking.booking_id.clone(),
        account_id: account.account_id.clone(),
        slot: booking.slot.clone(),
        slot_local: parse_instant(&booking.slot)
            .map(|at| local_label(Lang::Fr, at, account.timezone)),
        timezone: account.timezone.name().to_string(),
        name: booking.name.clone(),
        message: booking.message.clone(),
        message_id: link.message_id.clone(),
        provider: provider.map(str::to_string),
        call_id: call_id.map(str::to_string),
        caller,
        callback_number: number.map(|n| rappel::events::CallbackNumber {
            masked: n.masked.clone(),
            sealed: n.number.clone(),
        }),
        booked_at: booking.booked_at.clone(),
        // Where the evidence of the request is kept (`rappel-admin subject export` shows it).
        consent: rappel::events::ConsentReference {
            page_version: page_version().to_string(),
            language: lang.code().into(),
        },
    }
}

/// `CALL#{provider}#{call_id}` → `(provider, call_id)`; the call id may itself contain `#`.
pub fn split_call_sk(call_sk: &str) -> Option<(&str, &str)> {
    call_sk.strip_prefix(CALL_PREFIX)?.split_once('#')
}

/// The link page in the context's language, with the headers every page carries.
fn page(ctx: &Context, status: StatusCode, now: DateTime<Utc>, form: &FormState) -> Response<Body> {
    html(ctx.lang, status, link_page(ctx, now, form))
}

fn link_page(ctx: &Context, now: DateTime<Utc>, form: &FormState) -> String {
    let (lang, t) = (ctx.lang, ctx.lang.texts());
    // Times in the prospect's zone, named when it is not the business's (a Réunion caller
    // must not book a time 3 hours off). The business's events keep its own zone and UTC.
    let tz = ctx.tz();
    let zone = (tz != ctx.account.timezone).then(|| lang.zone_name(tz));
    let booked_label = ctx.link.booking.as_ref().map(|b| {
        let label =
            parse_instant(&b.slot).map_or_else(|| b.slot.clone(), |at| local_label(lang, at, tz));
        match &zone {
            Some(zone) => t.zone_time(&label, zone),
            None => label,
        }
    });
    // Slots are listed to book, or, for a booking that has not started, to move it to.
    let can_change = ctx
        .link
        .booking
        .as_ref()
        .is_some_and(|b| can_change(b, now));
    let days = if (booked_label.is_none() && ctx.link.opted_out_at.is_none()) || can_change {
        let current = ctx
            .link
            .booking
            .as_ref()
            .and_then(|b| parse_instant(&b.slot));
        let offered: Vec<Slot> = offered_slots(
            &ctx.account,
            &ctx.full,
            now,
            parse_instant(&ctx.link.valid_until),
        )
        .into_iter()
        .filter(|slot| Some(slot.start) != current)
        .map(|slot| Slot {
            label: local_label(lang, slot.start, tz),
            ..slot
        })
        .collect();
        day_views(&offered, form.chosen)
    } else {
        Vec::new()
    };
    render(
        lang,
        &LinkPage {
            lang: lang.code(),
            t,
            company: &ctx.account.company_name,
            book_action: ctx.book_action(),
            opt_out_action: ctx.opt_out_action(),
            booked_label,
            booked_number: ctx
                .link
                .booking
                .as_ref()
                .and_then(|b| b.callback_number.clone()),
            opted_out: ctx.link.opted_out_at.is_some(),
            days,
            error: form.error.map(|e| e.message(lang)),
            name: &form.name,
            message: &form.message,
            phone_error: matches!(
                form.error,
                Some(FormError::PhoneInvalid | FormError::PhoneNotCallable)
            ),
            phone_again: form.phone_typed
                && !matches!(
                    form.error,
                    Some(FormError::PhoneInvalid | FormError::PhoneNotCallable)
                ),
            number_days: retention::LINK_VALID_DAYS + retention::CALLBACK_NUMBER_DAYS,
            name_max: NAME_MAX,
            message_max: MESSAGE_MAX,
            phone_max: PHONE_MAX,
            retention_days: RETENTION_DAYS,
            booking_retention_years: retention::BOOKING_DAYS / 365,
            consent: consent_text(lang, &ctx.account.company_name),
            zone,
            can_change,
            reschedule_action: format!("{}/r/{}/reschedule", ctx.base_url, ctx.token),
            cancel_action: format!("{}/r/{}/cancel", ctx.base_url, ctx.token),
            notice: form.notice,
        },
    )
}

/// Whether a booking can still be moved or cancelled at `now`: until its slot starts.
pub fn can_change(booking: &Booking, now: DateTime<Utc>) -> bool {
    parse_instant(&booking.slot).is_some_and(|start| now < start)
}

fn expired(ctx: &Context) -> Response<Body> {
    let t = ctx.lang.texts();
    let page = NoticePage {
        lang: ctx.lang.code(),
        t,
        company: Some(&ctx.account.company_name),
        heading: t.expired_heading,
        text: t.expired_text(&ctx.account.company_name),
        opt_out_action: ctx
            .link
            .opted_out_at
            .is_none()
            .then(|| ctx.opt_out_action()),
    };
    html(ctx.lang, StatusCode::GONE, render(ctx.lang, &page))
}

#[cfg(test)]
mod tests;
