//! The booking page (rule 8, docs/architecture.md): `GET /r/{token}` shows the callback slots, `POST /r/{token}`
//! books one (`CallbackRequested`), `POST /r/{token}/opt-out` stops the SMS (`OptedOut`).
//! `GET /o/{token}` is the short opt-out link an SMS carries (`{optout}`): it asks for a
//! confirmation (link previews fetch URLs), `POST /o/{token}` opts out. Both opt-out actions
//! keep working for a year after the booking link expired (the `LINK#…/OPTOUT` item).
//!
//! Everything is server-rendered HTML that works without JavaScript. The handler never fails:
//! an AWS error becomes a 500 page and a log line that names the service, never the person.

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lambda_http::http::header::{self, HeaderName, HeaderValue};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use rappel::account::{Account, TOKEN_LEN};
use rappel::aws::Table;
use rappel::funnel::{self, Step};
use rappel::items::{
    Booking, BookingItem, CALL_PREFIX, ConsentRecord, LinkItem, OptOutLinkItem, OptOutSource,
    RETENTION_DAYS, account_pk, booking_sk, ts,
};
use rappel::ports::{Clock, EventPublisher, PortError};
use rappel::retention;
use rappel::rules::Reason;
use rappel::slots::{self, Slot};
use rappel::store::BookOutcome;
use std::convert::Infallible;
use std::future::Future;

/// Longest accepted name, in characters (Unicode scalar values) after trimming.
pub const NAME_MAX: usize = 100;
/// Longest accepted message, in characters after trimming (line breaks count one).
pub const MESSAGE_MAX: usize = 500;
/// Minimum notice before an offered slot, minutes.
pub const LEAD_MINUTES: i64 = 60;
/// Local days of slots shown on the page (today included).
pub const DAYS_SHOWN: u32 = 7;
/// Most slots shown on the page.
pub const MAX_SLOTS: usize = 30;

/// Content-Security-Policy of every page: no script, no external resource, inline styles
/// only, forms post to this origin, never framed (the opt-out button must not be
/// clickjacked).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the booking function needs, built once per cold start by `main`.
pub struct Deps<E: EventPublisher, C: Clock> {
    pub table: Table,
    pub events: E,
    pub clock: C,
    /// `PUBLIC_BASE_URL` without trailing slash: base of the page's form actions when the
    /// account has no `booking_base_url`.
    pub public_base_url: String,
}

/// Answer one API Gateway request. Never errors: failures become an HTML error page.
pub async fn handle<E: EventPublisher, C: Clock>(
    deps: &Deps<E, C>,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    Ok(respond(
        &deps.table,
        &deps.events,
        &deps.clock,
        &deps.public_base_url,
        &req,
    )
    .await)
}

// ------------------------------------------------------------------------------- routing

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET` (or `HEAD`) `/r/{token}`.
    Page(String),
    /// `POST /r/{token}`.
    Book(String),
    /// `POST /r/{token}/opt-out`.
    OptOut(String),
    /// `POST /r/{token}/reschedule`: move the booking to another slot.
    Reschedule(String),
    /// `POST /r/{token}/cancel`: cancel the booking.
    Cancel(String),
    /// `GET` (or `HEAD`) `/o/{token}`: the SMS's opt-out link, asking for confirmation.
    OptOutPage(String),
    /// `POST /o/{token}`: the confirmed opt-out.
    OptOutConfirm(String),
    /// A known path with another method; the value is the `Allow` header.
    MethodNotAllowed(&'static str),
    NotFound,
}

/// Route on the trailing segments of `path`, so a stage or custom-domain base path in front
/// of `/r/...` does not matter. A token that is not 22 base64url characters is
/// [`Route::NotFound`] (no table read for garbage).
pub fn route(method: &Method, path: &str) -> Route {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let (token, opt_out) = match segments.as_slice() {
        [.., "r", token, "opt-out"] => (*token, true),
        [.., "r", token, action @ ("reschedule" | "cancel")] if is_token(token) => {
            let token = token.to_string();
            return match (post, *action) {
                (true, "reschedule") => Route::Reschedule(token),
                (true, _) => Route::Cancel(token),
                _ => Route::MethodNotAllowed("POST"),
            };
        }
        [.., "r", token] => (*token, false),
        [.., "o", token] if is_token(token) => {
            let token = token.to_string();
            return match (get, post) {
                (true, _) => Route::OptOutPage(token),
                (_, true) => Route::OptOutConfirm(token),
                _ => Route::MethodNotAllowed("GET, HEAD, POST"),
            };
        }
        _ => return Route::NotFound,
    };
    if !is_token(token) {
        return Route::NotFound;
    }
    let token = token.to_string();
    match (opt_out, get, post) {
        (false, true, _) => Route::Page(token),
        (false, _, true) => Route::Book(token),
        (true, _, true) => Route::OptOut(token),
        (false, _, _) => Route::MethodNotAllowed("GET, HEAD, POST"),
        (true, _, _) => Route::MethodNotAllowed("POST"),
    }
}

/// Whether `token` has the shape of a booking token: [`TOKEN_LEN`] base64url characters.
pub fn is_token(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ------------------------------------------------------------------------------- storage port

/// The table operations this function uses (implemented by [`Table`]; faked in tests).
pub trait BookingStore: Send + Sync {
    /// The link `token`, `None` when unknown.
    fn link(&self, token: &str)
    -> impl Future<Output = Result<Option<LinkItem>, PortError>> + Send;
    /// The validated account, `None` when unknown.
    fn account(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<Account>, PortError>> + Send;
    /// The masked caller number of message `message_id` (`+33 6•• •• •• 01`), if known.
    fn caller_masked(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// The opt-out link `token` (kept a year after the booking link), `None` when unknown.
    fn optout_link(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<OptOutLinkItem>, PortError>> + Send;
    /// Whether caller `hash` opted out of `account_id`.
    fn is_opted_out(
        &self,
        account_id: &str,
        hash: &str,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Book unless already booked, keeping `record` (booking + consent record) and counting it
    /// in its slot unless the slot holds `capacity` callbacks already.
    fn book(
        &self,
        token: &str,
        record: &BookingItem,
        capacity: u32,
    ) -> impl Future<Output = Result<BookOutcome, PortError>> + Send;
    /// Callbacks booked per slot start of `account_id`, for slots starting in `[from, to]`.
    fn slot_counts(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(DateTime<Utc>, u32)>, PortError>> + Send;
    /// Move the booking of `record` (its current slot) to `slot` unless that slot holds
    /// `capacity` callbacks already.
    fn reschedule_booking(
        &self,
        token: &str,
        record: &BookingItem,
        slot: DateTime<Utc>,
        capacity: u32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<BookOutcome, PortError>> + Send;
    /// Cancel the booking of `record` (kept as evidence); `false` when it was no longer there.
    fn cancel_booking(
        &self,
        token: &str,
        record: &BookingItem,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Withdraw `record` from link `token` (only that booking): used when the business could
    /// not be told, so that the prospect's retry books and tells again.
    fn unbook(
        &self,
        token: &str,
        record: &BookingItem,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Record the first opening of message `message_id`'s link; `true` the first time.
    fn mark_opened(
        &self,
        account_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// The prospect was in contact at `now` (a visit of the link): their bookings are kept 3
    /// years from now. Returns how many.
    fn touch_bookings(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize, PortError>> + Send;
    /// Record the opt-out of caller `hash` (source `link`; idempotent).
    fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Mark the link as used to opt out (first instant kept).
    fn mark_link_opted_out(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Cancel the caller's scheduled messages (reason `opted_out`); returns how many.
    fn cancel_pending(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize, PortError>> + Send;
}

impl BookingStore for Table {
    async fn link(&self, token: &str) -> Result<Option<LinkItem>, PortError> {
        self.get_link(token).await
    }
    async fn account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        self.get_account(account_id).await
    }
    async fn caller_masked(
        &self,
        account_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, PortError> {
        Ok(self
            .get_message(account_id, message_id)
            .await?
            .and_then(|m| m.caller_masked))
    }
    async fn optout_link(&self, token: &str) -> Result<Option<OptOutLinkItem>, PortError> {
        self.get_optout_link(token).await
    }
    async fn is_opted_out(&self, account_id: &str, hash: &str) -> Result<bool, PortError> {
        Table::is_opted_out(self, account_id, hash).await
    }
    async fn book(
        &self,
        token: &str,
        record: &BookingItem,
        capacity: u32,
    ) -> Result<BookOutcome, PortError> {
        Table::book(self, token, record, capacity).await
    }
    async fn slot_counts(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, u32)>, PortError> {
        Table::slot_counts(self, account_id, from, to).await
    }
    async fn unbook(&self, token: &str, record: &BookingItem) -> Result<(), PortError> {
        Table::unbook(self, token, record).await
    }
    async fn reschedule_booking(
        &self,
        token: &str,
        record: &BookingItem,
        slot: DateTime<Utc>,
        capacity: u32,
        now: DateTime<Utc>,
    ) -> Result<BookOutcome, PortError> {
        Table::reschedule_booking(self, token, record, slot, capacity, now).await
    }
    async fn cancel_booking(
        &self,
        token: &str,
        record: &BookingItem,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::cancel_booking(self, token, record, now).await
    }
    async fn touch_bookings(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        Table::touch_bookings(self, account_id, hash, now).await
    }
    async fn mark_opened(
        &self,
        account_id: &str,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        Table::mark_opened(self, account_id, message_id, now).await
    }
    async fn put_opt_out(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        Table::record_opt_out(self, account_id, hash, OptOutSource::Link, now)
            .await
            .map(drop)
    }
    async fn mark_link_opted_out(&self, token: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        Table::mark_link_opted_out(self, token, now).await
    }
    async fn cancel_pending(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, PortError> {
        Ok(
            Table::cancel_pending(self, account_id, hash, Reason::OptedOut, now)
                .await?
                .len(),
        )
    }
}

// ------------------------------------------------------------------------------- handling

/// [`handle`] over the narrow ports: routes, reads the link and account, and answers.
pub async fn respond<S: BookingStore, E: EventPublisher, C: Clock>(
    store: &S,
    events: &E,
    clock: &C,
    public_base_url: &str,
    req: &Request,
) -> Response<Body> {
    let route = route(req.method(), req.uri().path());
    let now = clock.now();
    if req.method() == Method::POST && is_cross_site(req) {
        tracing::warn!("cross-site form post refused");
        return forbidden();
    }
    let result = match route {
        Route::NotFound => return not_found(),
        Route::MethodNotAllowed(allow) => return method_not_allowed(allow),
        Route::Page(token) => show(store, public_base_url, &token, now).await,
        Route::Book(token) => {
            book(
                store,
                events,
                public_base_url,
                &token,
                now,
                req.body().as_ref(),
            )
            .await
        }
        Route::OptOut(token) => opt_out(store, events, public_base_url, &token, now).await,
        Route::Reschedule(token) => {
            reschedule(
                store,
                events,
                public_base_url,
                &token,
                now,
                req.body().as_ref(),
            )
            .await
        }
        Route::Cancel(token) => cancel(store, events, public_base_url, &token, now).await,
        Route::OptOutPage(token) => opt_out_page(store, public_base_url, &token, now).await,
        Route::OptOutConfirm(token) => {
            opt_out_confirm(store, events, public_base_url, &token, now).await
        }
    };
    result.unwrap_or_else(|e| {
        tracing::error!(service = e.service, error = %e.message, "booking request failed");
        server_error()
    })
}

/// A link with its account, as the page needs them.
struct Context {
    token: String,
    link: LinkItem,
    account: Account,
    /// Base URL of the page (the account's `booking_base_url`, else the deployment's).
    base_url: String,
    expired: bool,
    /// Slot starts at capacity (`callback_hours.slot_capacity`): not offered.
    full: Vec<DateTime<Utc>>,
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
fn offered_slots(account: &Account, full: &[DateTime<Utc>], now: DateTime<Utc>) -> Vec<Slot> {
    let mut offered = slots::upcoming_slots(
        &account.callback_hours,
        account.timezone,
        account.holiday_zone,
        now,
        LEAD_MINUTES,
        DAYS_SHOWN,
        MAX_SLOTS + full.len(),
    );
    offered.retain(|slot| !full.contains(&slot.start));
    offered.truncate(MAX_SLOTS);
    offered
}

/// French name of a zone for "heure de ...": the overseas departments and collectivities.
pub fn zone_name(tz: Tz) -> String {
    use chrono_tz::{America, Indian};
    match tz {
        Indian::Reunion => "La Réunion".into(),
        Indian::Mayotte => "Mayotte".into(),
        America::Guadeloupe => "la Guadeloupe".into(),
        America::Martinique => "la Martinique".into(),
        America::Cayenne => "la Guyane".into(),
        America::Miquelon => "Saint-Pierre-et-Miquelon".into(),
        America::St_Barthelemy => "Saint-Barthélemy".into(),
        America::Marigot => "Saint-Martin".into(),
        chrono_tz::Europe::Paris => "Paris".into(),
        other => other.name().replace('_', " "),
    }
}

/// Load link and account; `Err(response)` inside `Ok` for an unknown link or account.
async fn load<S: BookingStore>(
    store: &S,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<Context, Response<Body>>, PortError> {
    let Some(link) = store.link(token).await? else {
        return Ok(Err(not_found()));
    };
    let Some(account) = store.account(&link.account_id).await? else {
        tracing::warn!(account_id = %link.account_id, "link of an unknown account");
        return Ok(Err(not_found()));
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
        .unwrap_or(public_base_url)
        .trim_end_matches('/')
        .to_string();
    Ok(Ok(Context {
        token: token.to_string(),
        link,
        account,
        base_url,
        expired,
        full: Vec::new(),
    }))
}

/// `GET /r/{token}`.
async fn show<S: BookingStore>(
    store: &S,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, PortError> {
    let ctx = match load(store, public_base_url, token, now).await? {
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
    Ok(html(
        StatusCode::OK,
        link_page(&ctx, now, &FormState::default()),
    ))
}

/// `POST /r/{token}`: validate the form, book, and tell the business (once).
async fn book<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
    body: &[u8],
) -> Result<Response<Body>, PortError> {
    let ctx = match load(store, public_base_url, token, now).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    // A resubmission (back button, double tap) shows the booking that holds.
    if ctx.link.booking.is_some() {
        return Ok(html(
            StatusCode::OK,
            link_page(&ctx, now, &FormState::default()),
        ));
    }
    // A stale form after an opt-out: nothing to book, show the opted-out state.
    if ctx.link.opted_out_at.is_some() {
        return Ok(html(
            StatusCode::CONFLICT,
            link_page(&ctx, now, &FormState::default()),
        ));
    }
    let mut ctx = ctx;
    ctx.full = full_slots(store, &ctx.account, now).await?;
    let raw = RawForm::parse(body);
    let form = match validate(&raw, &ctx.account, now, &ctx.full) {
        Ok(form) => form,
        Err(error) => {
            tracing::info!(account_id = %ctx.account.account_id, error = %error, "booking form refused");
            let state = FormState {
                error: Some(error.french()),
                name: raw.name.unwrap_or_default(),
                message: raw.message.unwrap_or_default(),
                chosen: (!matches!(
                    error,
                    FormError::Slot | FormError::SlotNotOffered | FormError::SlotTaken
                ))
                .then(|| raw.slot.as_deref().and_then(parse_instant))
                .flatten(),
                notice: None,
            };
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                link_page(&ctx, now, &state),
            ));
        }
    };
    // Read what the event needs before booking: once booked, only the event is left to fail.
    let caller = store
        .caller_masked(&ctx.account.account_id, &ctx.link.message_id)
        .await?;
    let new = Booking {
        booking_id: rappel::crypto::new_id("bkg"),
        slot: ts(form.slot),
        name: form.name,
        message: form.message,
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
        consent: Some(consent_record(&ctx.account.company_name)),
        last_contact_at: ts(now),
        cancelled_at: None,
        rescheduled_at: None,
        expires_at: retention::expires(now, retention::BOOKING_DAYS),
    };
    let held = match store
        .book(token, &record, ctx.account.callback_hours.slot_capacity)
        .await?
    {
        BookOutcome::Booked(booking) => booking,
        // Another tab or a double tap booked first: show that booking, tell nobody again.
        BookOutcome::Held(booking) => {
            ctx.link.booking = Some(booking);
            return Ok(html(
                StatusCode::OK,
                link_page(&ctx, now, &FormState::default()),
            ));
        }
        // Someone took the last place meanwhile: the remaining slots, and why.
        BookOutcome::SlotFull => {
            tracing::info!(account_id = %ctx.account.account_id, "slot filled meanwhile");
            ctx.full.push(form.slot);
            let state = FormState {
                error: Some(FormError::SlotTaken.french()),
                name: record.booking.name.clone().unwrap_or_default(),
                message: record.booking.message.clone().unwrap_or_default(),
                chosen: None,
                notice: None,
            };
            return Ok(html(StatusCode::CONFLICT, link_page(&ctx, now, &state)));
        }
    };
    {
        let detail = callback_requested_detail(&ctx.account, &ctx.link, &held, caller);
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
            "callback booked"
        );
        funnel::count(&ctx.account.account_id, Step::SlotBooked, None, now);
    }
    ctx.link.booking = Some(held);
    Ok(html(
        StatusCode::OK,
        link_page(&ctx, now, &FormState::default()),
    ))
}

/// `POST /r/{token}/opt-out`. Honoured even on an expired link: opposition has no deadline
/// (RGPD art. 21); once the booking link is gone, through its opt-out link (a year). Idempotent:
/// a link already used to opt out changes nothing.
async fn opt_out<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, PortError> {
    if store.link(token).await?.is_none() {
        return opt_out_confirm(store, events, public_base_url, token, now).await;
    }
    let mut ctx = match load(store, public_base_url, token, now).await? {
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
    Ok(html(
        StatusCode::OK,
        link_page(&ctx, now, &FormState::default()),
    ))
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
        slot_local: parse_instant(&booking.slot).map(|at| local_label(at, ctx.account.timezone)),
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
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
    body: &[u8],
) -> Result<Response<Body>, PortError> {
    let mut ctx = match load(store, public_base_url, token, now).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    let Some(current) = ctx.link.booking.clone().filter(|b| can_change(b, now)) else {
        // Nothing to move (cancelled, or the slot has started): the page as it is.
        return Ok(html(
            StatusCode::CONFLICT,
            link_page(&ctx, now, &FormState::default()),
        ));
    };
    ctx.full = full_slots(store, &ctx.account, now).await?;
    let raw = RawForm::parse(body);
    let slot = match validate(&raw, &ctx.account, now, &ctx.full) {
        Ok(form) => form.slot,
        Err(error) => {
            let state = FormState {
                error: Some(error.french()),
                ..FormState::default()
            };
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                link_page(&ctx, now, &state),
            ));
        }
    };
    if ts(slot) == current.slot {
        return Ok(html(
            StatusCode::OK,
            link_page(&ctx, now, &FormState::default()),
        ));
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
            let ctx = match load(store, public_base_url, token, now).await? {
                Ok(ctx) => ctx,
                Err(response) => return Ok(response),
            };
            return Ok(html(
                StatusCode::CONFLICT,
                link_page(&ctx, now, &FormState::default()),
            ));
        }
        BookOutcome::SlotFull => {
            ctx.full.push(slot);
            let state = FormState {
                error: Some(FormError::SlotTaken.french()),
                ..FormState::default()
            };
            return Ok(html(StatusCode::CONFLICT, link_page(&ctx, now, &state)));
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
        let undo = store
            .reschedule_booking(token, &booking_record(&ctx, &moved), back, u32::MAX, now)
            .await;
        tracing::error!(booking_id = %moved.booking_id, undone = undo.is_ok(), error = %e, "CallbackRescheduled not published");
        return Err(e);
    }
    tracing::info!(account_id = %ctx.account.account_id, booking_id = %moved.booking_id, "callback rescheduled");
    funnel::count(&ctx.account.account_id, Step::Rescheduled, None, now);
    ctx.link.booking = Some(moved);
    ctx.full.clear();
    Ok(html(
        StatusCode::OK,
        link_page(&ctx, now, &FormState::default()),
    ))
}

/// `POST /r/{token}/cancel`: cancel the booking, until its slot starts. The business is told
/// first (an event a retry repeats is harmless: consumers key on `booking_id`), then the
/// booking goes, so a failure never leaves a cancellation the business does not know of.
async fn cancel<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, PortError> {
    let mut ctx = match load(store, public_base_url, token, now).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    if ctx.expired {
        return Ok(expired(&ctx));
    }
    let Some(current) = ctx.link.booking.clone().filter(|b| can_change(b, now)) else {
        return Ok(html(
            StatusCode::CONFLICT,
            link_page(&ctx, now, &FormState::default()),
        ));
    };
    rappel::events::publish(events, &cancelled_event(&ctx, &current, now)).await?;
    store
        .cancel_booking(token, &booking_record(&ctx, &current), now)
        .await?;
    tracing::info!(account_id = %ctx.account.account_id, booking_id = %current.booking_id, "callback cancelled");
    funnel::count(&ctx.account.account_id, Step::Cancelled, None, now);
    ctx.link.booking = None;
    ctx.full = full_slots(store, &ctx.account, now).await?;
    let state = FormState {
        notice: Some("Votre rappel est annulé. Vous pouvez choisir un autre moment."),
        ..FormState::default()
    };
    Ok(html(StatusCode::OK, link_page(&ctx, now, &state)))
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
    store.put_opt_out(account_id, hash, now).await?;
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
    tracing::info!(%account_id, %message_id, cancelled, "opted out");
    funnel::count(account_id, Step::OptedOut, None, now);
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
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<OptOutTarget>, PortError> {
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
        .unwrap_or(public_base_url)
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
async fn opt_out_page<S: BookingStore>(
    store: &S,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, PortError> {
    let Some(target) = opt_out_target(store, public_base_url, token, now).await? else {
        return Ok(not_found());
    };
    let company = &target.account.company_name;
    let done = store
        .is_opted_out(&target.account.account_id, &target.hash)
        .await?;
    let page = if done {
        NoticePage {
            company: Some(company),
            heading: "C'est noté",
            text: format!("Vous ne recevez plus de SMS de {company}."),
            opt_out_action: None,
        }
    } else {
        NoticePage {
            company: Some(company),
            heading: "Ne plus recevoir de SMS",
            text: format!(
                "Confirmez ci-dessous : {company} ne vous enverra plus de SMS. Un rappel déjà demandé n'est pas annulé."
            ),
            opt_out_action: Some(format!("{}/o/{token}", target.base_url)),
        }
    };
    Ok(html(StatusCode::OK, render(&page)))
}

/// `POST /o/{token}` (and `POST /r/{token}/opt-out` once the booking link is gone).
async fn opt_out_confirm<S: BookingStore, E: EventPublisher>(
    store: &S,
    events: &E,
    public_base_url: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, PortError> {
    let Some(target) = opt_out_target(store, public_base_url, token, now).await? else {
        return Ok(not_found());
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
    let company = &target.account.company_name;
    let page = NoticePage {
        company: Some(company),
        heading: "C'est noté",
        text: format!("Vous ne recevrez plus de SMS de {company}."),
        opt_out_action: None,
    };
    Ok(html(StatusCode::OK, render(&page)))
}

/// The consent line shown above the booking button (`link.html`), word for word.
pub fn consent_text(company: &str) -> String {
    format!(
        "En validant, vous demandez à {company} de vous rappeler au créneau choisi, au numéro qui a appelé."
    )
}

/// The evidence of a callback request: the consent line, the language and the version of the
/// page that showed it (loi n° 2025-594, art. 3).
pub fn consent_record(company: &str) -> ConsentRecord {
    ConsentRecord {
        text: consent_text(company),
        language: "fr".into(),
        page_version: page_version().to_string(),
    }
}

/// SHA-256 (first 16 hex characters) of the templates the booking page is made of.
pub fn page_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        for source in [
            include_str!("../templates/base.html"),
            include_str!("../templates/link.html"),
            include_str!("../templates/slots.html"),
            include_str!("../templates/opt_out.html"),
            include_str!("../templates/privacy.html"),
        ] {
            hash.update(source.as_bytes());
        }
        hex::encode(hash.finalize())[..16].to_string()
    })
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
) -> rappel::events::CallbackRequested {
    let (provider, call_id) = split_call_sk(&link.call_sk).unzip();
    rappel::events::CallbackRequested {
        booking_id: booking.booking_id.clone(),
        account_id: account.account_id.clone(),
        slot: booking.slot.clone(),
        slot_local: parse_instant(&booking.slot).map(|at| local_label(at, account.timezone)),
        timezone: account.timezone.name().to_string(),
        name: booking.name.clone(),
        message: booking.message.clone(),
        message_id: link.message_id.clone(),
        provider: provider.map(str::to_string),
        call_id: call_id.map(str::to_string),
        caller,
        booked_at: booking.booked_at.clone(),
        // Where the evidence of the request is kept (`rappel-admin subject export` shows it).
        consent: rappel::events::ConsentReference {
            page_version: page_version().to_string(),
            language: "fr".into(),
        },
    }
}

/// `CALL#{provider}#{call_id}` → `(provider, call_id)`; the call id may itself contain `#`.
pub fn split_call_sk(call_sk: &str) -> Option<(&str, &str)> {
    call_sk.strip_prefix(CALL_PREFIX)?.split_once('#')
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// French label of instant `at` in zone `tz` ("vendredi 22 mai, 16:30").
pub fn local_label(at: DateTime<Utc>, tz: Tz) -> String {
    slots::french_label(at.with_timezone(&tz).naive_local())
}

// ------------------------------------------------------------------------------- the form

/// The posted fields, as sent (first occurrence of each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawForm {
    pub slot: Option<String>,
    pub name: Option<String>,
    pub message: Option<String>,
}

impl RawForm {
    /// Parse an `application/x-www-form-urlencoded` body. Unknown fields are ignored; a body
    /// that does not parse yields an empty form (then refused for its missing slot).
    pub fn parse(body: &[u8]) -> RawForm {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        RawForm {
            slot: field("slot"),
            name: field("name"),
            message: field("message"),
        }
    }
}

/// A valid booking request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingForm {
    /// Start of an offered slot (UTC).
    pub slot: DateTime<Utc>,
    pub name: Option<String>,
    pub message: Option<String>,
}

/// Why a posted form is refused (answered 422 with the form again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("slot missing or not an RFC 3339 instant")]
    Slot,
    #[error("slot not offered")]
    SlotNotOffered,
    #[error("slot filled meanwhile")]
    SlotTaken,
    #[error("name longer than {NAME_MAX} characters")]
    NameTooLong,
    #[error("message longer than {MESSAGE_MAX} characters")]
    MessageTooLong,
}

impl FormError {
    /// The message shown above the form.
    pub fn french(self) -> &'static str {
        match self {
            FormError::Slot => "Choisissez un créneau de rappel dans la liste.",
            FormError::SlotNotOffered => {
                "Ce créneau n'est plus disponible. Choisissez-en un autre dans la liste."
            }
            FormError::SlotTaken => {
                "Ce créneau vient d'être pris. Choisissez-en un autre dans la liste."
            }
            FormError::NameTooLong => "Votre nom ne doit pas dépasser 100 caractères.",
            FormError::MessageTooLong => "Votre message ne doit pas dépasser 500 caractères.",
        }
    }
}

/// Check a posted form against the account's callback hours at `now`
/// ([`slots::is_offered`]) and the length limits (after trimming; empty means absent).
pub fn validate(
    raw: &RawForm,
    account: &Account,
    now: DateTime<Utc>,
    full: &[DateTime<Utc>],
) -> Result<BookingForm, FormError> {
    let slot = raw
        .slot
        .as_deref()
        .and_then(parse_instant)
        .ok_or(FormError::Slot)?;
    if !slots::is_offered(
        &account.callback_hours,
        account.timezone,
        account.holiday_zone,
        now,
        slot,
    ) {
        return Err(FormError::SlotNotOffered);
    }
    // At capacity (a stale or forged form): not offered either.
    if full.contains(&slot) {
        return Err(FormError::SlotTaken);
    }
    let name = raw.name.as_deref().and_then(|n| clean(n, false));
    if name.as_ref().is_some_and(|n| n.chars().count() > NAME_MAX) {
        return Err(FormError::NameTooLong);
    }
    let message = raw.message.as_deref().and_then(|m| clean(m, true));
    if message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MESSAGE_MAX)
    {
        return Err(FormError::MessageTooLong);
    }
    Ok(BookingForm {
        slot,
        name,
        message,
    })
}

/// Normalize free text: line breaks to `\n` (kept only when `multiline`, else a space),
/// other control characters dropped (tabs become spaces), trimmed; `None` when empty.
fn clean(text: &str, multiline: bool) -> Option<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\n' if multiline => Some('\n'),
            '\n' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

// ------------------------------------------------------------------------------- pages

/// What the form shows besides the slots: an error and the values typed so far.
#[derive(Debug, Clone, Default)]
struct FormState {
    error: Option<&'static str>,
    /// A confirmation to show (`Votre rappel est annulé.`).
    notice: Option<&'static str>,
    name: String,
    message: String,
    /// The slot the prospect chose (re-checked only when it is still valid).
    chosen: Option<DateTime<Utc>>,
}

/// One radio button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    pub id: String,
    /// Slot start, RFC 3339 UTC (posted back as `slot`).
    pub value: String,
    /// Local time, `16:30`.
    pub time: String,
    pub checked: bool,
}

/// The slots of one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayView {
    /// `vendredi 22 mai`.
    pub label: String,
    pub slots: Vec<SlotView>,
}

/// Group slots (sorted) by local day, splitting their labels `"{day}, {time}"`.
pub fn day_views(slots: &[Slot], chosen: Option<DateTime<Utc>>) -> Vec<DayView> {
    let mut days: Vec<DayView> = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let (day, time) = slot
            .label
            .rsplit_once(", ")
            .unwrap_or((slot.label.as_str(), slot.label.as_str()));
        let view = SlotView {
            id: format!("slot-{i}"),
            value: ts(slot.start),
            time: time.to_string(),
            checked: chosen == Some(slot.start),
        };
        match days.last_mut() {
            Some(last) if last.label == day => last.slots.push(view),
            _ => days.push(DayView {
                label: day.to_string(),
                slots: vec![view],
            }),
        }
    }
    days
}

/// The link page: form, confirmation or opted-out state, opt-out button and privacy notice.
#[derive(Template)]
#[template(path = "link.html")]
pub struct LinkPage<'a> {
    pub company: &'a str,
    pub book_action: String,
    pub opt_out_action: String,
    /// Label of the booked slot: the confirmation replaces the form.
    pub booked_label: Option<String>,
    pub opted_out: bool,
    pub days: Vec<DayView>,
    pub error: Option<&'a str>,
    pub name: &'a str,
    pub message: &'a str,
    pub name_max: usize,
    pub message_max: usize,
    pub retention_days: i64,
    pub booking_retention_years: i64,
    pub consent: String,
    /// The prospect's zone when it is not the business's (`La Réunion`): times are in it.
    pub zone: Option<String>,
    /// The booking has not started: it can be moved (`days` are the other slots) or cancelled.
    pub can_change: bool,
    pub reschedule_action: String,
    pub cancel_action: String,
    pub notice: Option<&'a str>,
}

/// A page with a heading and a sentence (404, 405, 410, 500); with `company` and
/// `opt_out_action`, an opt-out button too.
#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage<'a> {
    pub company: Option<&'a str>,
    pub heading: &'a str,
    pub text: String,
    pub opt_out_action: Option<String>,
}

fn link_page(ctx: &Context, now: DateTime<Utc>, form: &FormState) -> String {
    // Times in the prospect's zone, named when it is not the business's (a Réunion caller
    // must not book a time 3 hours off).
    let tz = ctx.tz();
    let zone = (tz != ctx.account.timezone).then(|| zone_name(tz));
    let booked_label = ctx.link.booking.as_ref().map(|b| {
        let label = parse_instant(&b.slot).map_or_else(|| b.slot.clone(), |at| local_label(at, tz));
        match &zone {
            Some(zone) => format!("{label} (heure de {zone})"),
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
        let offered: Vec<Slot> = offered_slots(&ctx.account, &ctx.full, now)
            .into_iter()
            .filter(|slot| Some(slot.start) != current)
            .map(|slot| Slot {
                label: local_label(slot.start, tz),
                ..slot
            })
            .collect();
        day_views(&offered, form.chosen)
    } else {
        Vec::new()
    };
    render(&LinkPage {
        company: &ctx.account.company_name,
        book_action: ctx.book_action(),
        opt_out_action: ctx.opt_out_action(),
        booked_label,
        opted_out: ctx.link.opted_out_at.is_some(),
        days,
        error: form.error,
        name: &form.name,
        message: &form.message,
        name_max: NAME_MAX,
        message_max: MESSAGE_MAX,
        retention_days: RETENTION_DAYS,
        booking_retention_years: retention::BOOKING_DAYS / 365,
        consent: consent_text(&ctx.account.company_name),
        zone,
        can_change,
        reschedule_action: format!("{}/r/{}/reschedule", ctx.base_url, ctx.token),
        cancel_action: format!("{}/r/{}/cancel", ctx.base_url, ctx.token),
        notice: form.notice,
    })
}

/// Whether a booking can still be moved or cancelled at `now`: until its slot starts.
pub fn can_change(booking: &Booking, now: DateTime<Utc>) -> bool {
    parse_instant(&booking.slot).is_some_and(|start| now < start)
}

fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template rendering failed");
        "<!doctype html><html lang=\"fr\"><title>Erreur</title><p>Un problème est survenu. Réessayez dans quelques instants.</p></html>".to_string()
    })
}

fn expired(ctx: &Context) -> Response<Body> {
    let page = NoticePage {
        company: Some(&ctx.account.company_name),
        heading: "Ce lien a expiré",
        text: format!(
            "Ce lien a expiré. Pour être rappelé, appelez à nouveau {}.",
            ctx.account.company_name
        ),
        opt_out_action: ctx
            .link
            .opted_out_at
            .is_none()
            .then(|| ctx.opt_out_action()),
    };
    html(StatusCode::GONE, render(&page))
}

/// Whether a form post comes from another site (CSRF): the browser says so in
/// `Sec-Fetch-Site: cross-site` (Fetch Metadata, sent by every current browser, including on
/// top-level form posts). `Origin` cannot be used: the pages' `Referrer-Policy: no-referrer`
/// makes browsers send `Origin: null` on our own forms, and behind CloudFront the API sees its
/// own host, not the page's. A client that sends no such header (curl) is not a browser being
/// abused.
pub fn is_cross_site(req: &Request) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

fn forbidden() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Action impossible",
        text: "Cette demande ne vient pas de la page de rappel. Ouvrez le lien reçu par SMS et réessayez.".into(),
        opt_out_action: None,
    };
    html(StatusCode::FORBIDDEN, render(&page))
}

fn not_found() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Lien introuvable",
        text: "Ce lien n'existe pas ou n'est plus valable. Vérifiez qu'il est complet, tel que reçu par SMS.".into(),
        opt_out_action: None,
    };
    html(StatusCode::NOT_FOUND, render(&page))
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Action impossible",
        text: "Cette adresse ne permet pas cette action.".into(),
        opt_out_action: None,
    };
    let mut response = html(StatusCode::METHOD_NOT_ALLOWED, render(&page));
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn server_error() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Un problème est survenu",
        text: "Votre demande n'a pas pu être traitée. Réessayez dans quelques instants.".into(),
        opt_out_action: None,
    };
    html(StatusCode::INTERNAL_SERVER_ERROR, render(&page))
}

/// An HTML response with the headers every page carries.
fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // HTTPS only from now on, for a year (RFC 6797); ignored by browsers over plain HTTP.
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use lambda_http::RequestExt;
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
        /// Callbacks booked per slot (RFC 3339 start).
        slots: Mutex<std::collections::HashMap<String, u32>>,
        optout_link: Mutex<Option<OptOutLinkItem>>,
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
            capacity: u32,
        ) -> Result<BookOutcome, PortError> {
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
        async fn put_opt_out(&self, a: &str, h: &str, _: DateTime<Utc>) -> Result<(), PortError> {
            self.opt_outs.lock().unwrap().push((a.into(), h.into()));
            Ok(())
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
        async fn cancel_pending(
            &self,
            _: &str,
            _: &str,
            _: DateTime<Utc>,
        ) -> Result<usize, PortError> {
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
                include_str!("../../../events/booking-get.json"),
                Route::Page(TOKEN.into()),
            ),
            (
                include_str!("../../../events/booking-post.json"),
                Route::Book(TOKEN.into()),
            ),
            (
                include_str!("../../../events/booking-opt-out.json"),
                Route::OptOut(TOKEN.into()),
            ),
        ];
        for (json, expected) in cases {
            let req = lambda_http::request::from_str(json).expect("event parses");
            assert_eq!(route(req.method(), req.uri().path()), expected);
        }
        // The POST body arrives base64-decoded and parses as the form.
        let req = lambda_http::request::from_str(include_str!("../../../events/booking-post.json"))
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
        )
        .unwrap();
        assert_eq!((blank.name, blank.message), (None, None));
        // Exactly at the limits (characters, not bytes).
        let ok = validate(
            &raw("2026-11-30T09:00:00Z", &"é".repeat(100), &"à".repeat(500)),
            &account(),
            now(),
            &[],
        );
        assert!(ok.is_ok());
        // A slot at capacity is refused, whatever the form says.
        let full = [Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()];
        let taken = validate(
            &raw("2026-11-30T09:00:00Z", "", ""),
            &account(),
            now(),
            &full,
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
            assert_eq!(validate(&form, &a, now(), &[]), Err(expected), "{form:?}");
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
            html.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        assert!(html.contains("<p class=\"brand\">Plomberie Martin</p>"));
        assert!(html.contains("Vous avez appelé Plomberie Martin et nous n'avons pas pu répondre"));
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
            error: Some(FormError::Slot.french()),
            name: "\"><script>alert(1)</script>".into(),
            message: "</textarea><b>".into(),
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
        for response in [not_found(), server_error(), method_not_allowed("POST")] {
            assert_eq!(response.headers()["cache-control"], "no-store");
            assert_eq!(response.headers()["content-security-policy"], CSP);
        }
        assert_eq!(method_not_allowed("POST").headers()["allow"], "POST");
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
        let body =
            "slot=2026-11-30T09%3A00%3A00Z&name=+Jean+Dupont+&message=Plut%C3%B4t+avant+midi";
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
        struct Racing(FakeStore);
        impl BookingStore for Racing {
            async fn link(&self, t: &str) -> Result<Option<LinkItem>, PortError> {
                self.0.link(t).await
            }
            async fn account(&self, a: &str) -> Result<Option<Account>, PortError> {
                self.0.account(a).await
            }
            async fn caller_masked(&self, a: &str, m: &str) -> Result<Option<String>, PortError> {
                self.0.caller_masked(a, m).await
            }
            async fn book(
                &self,
                _: &str,
                b: &BookingItem,
                _: u32,
            ) -> Result<BookOutcome, PortError> {
                Ok(BookOutcome::Held(Booking {
                    booking_id: "bkg_earlier".into(),
                    ..b.booking.clone()
                }))
            }
            async fn slot_counts(
                &self,
                a: &str,
                f: DateTime<Utc>,
                t: DateTime<Utc>,
            ) -> Result<Vec<(DateTime<Utc>, u32)>, PortError> {
                self.0.slot_counts(a, f, t).await
            }
            async fn unbook(&self, t: &str, b: &BookingItem) -> Result<(), PortError> {
                self.0.unbook(t, b).await
            }
            async fn reschedule_booking(
                &self,
                t: &str,
                r: &BookingItem,
                slot: DateTime<Utc>,
                c: u32,
                n: DateTime<Utc>,
            ) -> Result<BookOutcome, PortError> {
                self.0.reschedule_booking(t, r, slot, c, n).await
            }
            async fn cancel_booking(
                &self,
                t: &str,
                r: &BookingItem,
                n: DateTime<Utc>,
            ) -> Result<bool, PortError> {
                self.0.cancel_booking(t, r, n).await
            }
            async fn mark_opened(
                &self,
                a: &str,
                m: &str,
                n: DateTime<Utc>,
            ) -> Result<bool, PortError> {
                self.0.mark_opened(a, m, n).await
            }
            async fn optout_link(&self, t: &str) -> Result<Option<OptOutLinkItem>, PortError> {
                self.0.optout_link(t).await
            }
            async fn is_opted_out(&self, a: &str, h: &str) -> Result<bool, PortError> {
                self.0.is_opted_out(a, h).await
            }
            async fn touch_bookings(
                &self,
                a: &str,
                h: &str,
                n: DateTime<Utc>,
            ) -> Result<usize, PortError> {
                self.0.touch_bookings(a, h, n).await
            }
            async fn put_opt_out(
                &self,
                a: &str,
                h: &str,
                n: DateTime<Utc>,
            ) -> Result<(), PortError> {
                self.0.put_opt_out(a, h, n).await
            }
            async fn mark_link_opted_out(
                &self,
                t: &str,
                n: DateTime<Utc>,
            ) -> Result<(), PortError> {
                self.0.mark_link_opted_out(t, n).await
            }
            async fn cancel_pending(
                &self,
                a: &str,
                h: &str,
                n: DateTime<Utc>,
            ) -> Result<usize, PortError> {
                self.0.cancel_pending(a, h, n).await
            }
        }
        let store = Racing(FakeStore::with(link()));
        let events = FakeEvents::default();
        let req = request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z",
        );
        let response = respond(
            &store,
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
        let (status, page) =
            call(&store, &events, request("GET", &format!("/o/{TOKEN}"), "")).await;
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
        let consent = consent_text("Plomberie Martin");
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
        struct Raced(FakeStore);
        impl BookingStore for Raced {
            async fn link(&self, t: &str) -> Result<Option<LinkItem>, PortError> {
                self.0.link(t).await
            }
            async fn account(&self, a: &str) -> Result<Option<Account>, PortError> {
                self.0.account(a).await
            }
            async fn caller_masked(&self, a: &str, m: &str) -> Result<Option<String>, PortError> {
                self.0.caller_masked(a, m).await
            }
            async fn optout_link(&self, t: &str) -> Result<Option<OptOutLinkItem>, PortError> {
                self.0.optout_link(t).await
            }
            async fn is_opted_out(&self, a: &str, h: &str) -> Result<bool, PortError> {
                self.0.is_opted_out(a, h).await
            }
            async fn book(
                &self,
                _: &str,
                _: &BookingItem,
                _: u32,
            ) -> Result<BookOutcome, PortError> {
                Ok(BookOutcome::SlotFull)
            }
            async fn slot_counts(
                &self,
                _: &str,
                _: DateTime<Utc>,
                _: DateTime<Utc>,
            ) -> Result<Vec<(DateTime<Utc>, u32)>, PortError> {
                Ok(Vec::new())
            }
            async fn unbook(&self, t: &str, r: &BookingItem) -> Result<(), PortError> {
                self.0.unbook(t, r).await
            }
            async fn reschedule_booking(
                &self,
                t: &str,
                r: &BookingItem,
                slot: DateTime<Utc>,
                c: u32,
                n: DateTime<Utc>,
            ) -> Result<BookOutcome, PortError> {
                self.0.reschedule_booking(t, r, slot, c, n).await
            }
            async fn cancel_booking(
                &self,
                t: &str,
                r: &BookingItem,
                n: DateTime<Utc>,
            ) -> Result<bool, PortError> {
                self.0.cancel_booking(t, r, n).await
            }
            async fn mark_opened(
                &self,
                a: &str,
                m: &str,
                n: DateTime<Utc>,
            ) -> Result<bool, PortError> {
                self.0.mark_opened(a, m, n).await
            }
            async fn touch_bookings(
                &self,
                a: &str,
                h: &str,
                n: DateTime<Utc>,
            ) -> Result<usize, PortError> {
                self.0.touch_bookings(a, h, n).await
            }
            async fn put_opt_out(
                &self,
                a: &str,
                h: &str,
                n: DateTime<Utc>,
            ) -> Result<(), PortError> {
                self.0.put_opt_out(a, h, n).await
            }
            async fn mark_link_opted_out(
                &self,
                t: &str,
                n: DateTime<Utc>,
            ) -> Result<(), PortError> {
                self.0.mark_link_opted_out(t, n).await
            }
            async fn cancel_pending(
                &self,
                a: &str,
                h: &str,
                n: DateTime<Utc>,
            ) -> Result<usize, PortError> {
                self.0.cancel_pending(a, h, n).await
            }
        }
        let store = Raced(FakeStore::with(link()));
        let events = FakeEvents::default();
        let req = request(
            "POST",
            &format!("/r/{TOKEN}"),
            "slot=2026-11-30T09%3A00%3A00Z&name=Camille",
        );
        let response = respond(
            &store,
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
}
