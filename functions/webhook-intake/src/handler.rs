//! `POST /webhooks/{provider}/{account_id}`: authenticate, parse, classify, protect and store
//! one call, idempotently. Decides nothing about SMS (that is eligibility's job, from the
//! table's stream).
//!
//! Answers: 200 with the provider's expected body (also for a redelivery, which changes
//! nothing); 400 malformed, 401 bad signature or unknown account (answered alike), 403
//! correctly signed but not bound to this account, 404 unknown provider, 405 not POST, 413
//! body over 64 KiB, 415 a declared Content-Type other than the provider's, 500 storage/KMS
//! failure (the provider retries). Errors are `application/problem+json` (RFC 9457). A call is stored before the 2xx, never after; a
//! missed-call event that arrives before the earlier leg it needs (Telnyx `call.initiated`,
//! Vonage leg A) is stored pending before the 2xx, and becomes the call when the leg arrives
//! (or, after [`LEG_WAIT`], by the re-decide sweep, as it reads).

use chrono::{DateTime, Duration, Utc};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use rappel::account::{Account, Secrets};
use rappel::call::{CallEvent, CallStatus, Direction};
use rappel::items::{
    CallItem, CallerFields, LegItem, account_pk, call_from_pending, call_sk, leg_sk, pending_sk,
    shard_of, ts, undecided_pk, undecided_sk,
};
use rappel::phone::{self, Caller, LineType};
use rappel::ports::{Clock, NumberProtector, PortError, SecretsVault};
use rappel::problem::{self, Problem};
use rappel::providers::{self, Ack, Leg, Provider, WebhookError, WebhookRequest};
use rappel::retention;
use rappel::store::{AccountStore, CallStore};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Mutex;

/// Largest accepted body, bytes (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a remembered call leg is kept, days.
pub const LEG_RETENTION_DAYS: i64 = rappel::retention::LEG_DAYS;

/// How long after a call a missed-call event that needs an earlier leg of the same call is
/// kept pending for it (the re-decide sweep, which takes calls undecided for 10 minutes,
/// stores it as it reads after that).
pub const LEG_WAIT: Duration = Duration::minutes(10);

/// Region used to read national-format numbers (`06…`).
pub const DEFAULT_REGION: &str = "FR";

/// What the handler needs, built once per cold start.
pub struct Deps<T: AccountStore + CallStore, K: NumberProtector + SecretsVault, C: Clock> {
    pub table: T,
    pub keys: K,
    pub clock: C,
    /// Public base URL providers call (custom domain + base path), no trailing slash. URL-signed
    /// providers (Twilio) sign `{public_base_url}/webhooks/{provider}/{account_id}?{raw query}`.
    pub public_base_url: String,
    /// Opened webhook secrets, per account, reused while the sealed value is unchanged.
    pub secrets: SecretsCache,
    /// Shards of the undecided-calls index (`DUE_SHARDS`, like the due queue).
    pub due_shards: u32,
}

/// Webhook secrets opened by this execution environment: account id → (sealed value, secrets).
/// Keyed by the sealed value, so a rotation (a new sealed value) is picked up at once, and a
/// warm container decrypts once per account.
#[derive(Default)]
pub struct SecretsCache(Mutex<HashMap<String, (String, BTreeMap<String, Secrets>)>>);

impl SecretsCache {
    /// The secrets of `account_id`, opening `sealed` with KMS unless already opened.
    async fn open<K: SecretsVault>(
        &self,
        keys: &K,
        account_id: &str,
        sealed: &str,
    ) -> Result<BTreeMap<String, Secrets>, PortError> {
        if let Some((known, secrets)) = self.0.lock().expect("secrets cache lock").get(account_id) {
            if known == sealed {
                return Ok(secrets.clone());
            }
        }
        let json = keys.open_secrets(account_id, sealed).await?;
        let secrets: BTreeMap<String, Secrets> = serde_json::from_str(&json)
            .map_err(|_| PortError::new("kms", "sealed webhook secrets are not a provider map"))?;
        self.0.lock().expect("secrets cache lock").insert(
            account_id.to_string(),
            (sealed.to_string(), secrets.clone()),
        );
        Ok(secrets)
    }
}

/// Handle one webhook request. Never returns `Err`: every failure is an HTTP answer.
pub async fn handle<T: AccountStore + CallStore, K: NumberProtector + SecretsVault, C: Clock>(
    deps: &Deps<T, K, C>,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    Ok(match intake(deps, &req).await {
        Ok(ack) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, ack.content_type)
            .body(Body::from(ack.body))
            .expect("static response"),
        Err(problem) => problem_response(&problem),
    })
}

/// The route's two parameters, from the last three path segments (so a stage or custom-domain
/// base path in front does not matter).
pub fn route(path: &str) -> Option<(&str, &str)> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let account_id = segments.next()?;
    let provider = segments.next()?;
    (segments.next()? == "webhooks" && !account_id.is_empty() && !provider.is_empty())
        .then_some((provider, account_id))
}

/// What names and authenticates a webhook request, read from the request alone (no I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookParts<'r> {
    /// Provider route name (`twilio`, `generic`...), not yet checked against the supported ones.
    pub provider: &'r str,
    pub account_id: &'r str,
    /// The URL the provider called, as it sees it:
    /// `{public_base_url}/webhooks/{provider}/{account_id}`, plus `?` and the raw query string
    /// when there is one. URL-signed providers (Twilio) sign this exact string, so it is built
    /// from the public base URL, never from the `Host` header or the stage in the event's path.
    pub public_url: String,
}

/// The route parameters of `req` (see [`route`]) and the public URL the provider called, given
/// the deployment's `public_base_url` (no trailing slash). `None` when the path is not
/// `…/webhooks/{provider}/{account_id}`.
pub fn webhook_request_parts<'r>(
    req: &'r Request,
    public_base_url: &str,
) -> Option<WebhookParts<'r>> {
    let (provider, account_id) = route(req.uri().path())?;
    let mut public_url = format!("{public_base_url}/webhooks/{provider}/{account_id}");
    if let Some(query) = req.uri().query() {
        public_url.push('?');
        public_url.push_str(query);
    }
    Some(WebhookParts {
        provider,
        account_id,
        public_url,
    })
}

async fn intake<T: AccountStore + CallStore, K: NumberProtector + SecretsVault, C: Clock>(
    deps: &Deps<T, K, C>,
    req: &Request,
) -> Result<Ack, Problem> {
    let now = deps.clock.now();
    let Some(WebhookParts {
        provider: provider_name,
        account_id,
        public_url,
    }) = webhook_request_parts(req, &deps.public_base_url)
    else {
        return Err(Problem::new(
            404,
            "not-found",
            "Not Found",
            "expected /webhooks/{provider}/{account_id}",
        ));
    };
    if req.method() != Method::POST {
        return Err(Problem::new(
            405,
            "method-not-allowed",
            "Method Not Allowed",
            "webhooks are POST requests",
        ));
    }
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            413,
            "payload-too-large",
            "Payload Too Large",
            format!(
                "body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    let Some(provider) = providers::by_name(provider_name) else {
        return Err(Problem::new(
            404,
            "not-found",
            "Not Found",
            format!("unknown provider {provider_name:?}"),
        ));
    };
    // A declared media type must be the provider's (a missing header is left to the parser).
    if let Some(declared) = req.headers().get(header::CONTENT_TYPE)
        && !declared
            .to_str()
            .is_ok_and(|d| providers::is_media_type(d, provider.media_type()))
    {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            format!("{provider_name} webhooks are {}", provider.media_type()),
        ));
    }
    let account = deps
        .table
        .get_account_sealed(account_id)
        .await
        .map_err(internal)?;
    let Some((mut account, sealed)) = account else {
        // An unknown account answers exactly as a known one with a wrong secret: the route
        // does not tell which accounts exist (a missing header is said as it would be).
        let webhook = WebhookRequest {
            public_url: &public_url,
            headers: req.headers(),
            body,
            now,
        };
        tracing::info!(provider = provider_name, "webhook for an unknown account");
        let refused = provider
            .verify(&webhook, &[UNKNOWN_ACCOUNT_SECRET])
            .err()
            .unwrap_or(WebhookError::Unauthorized("signature does not match"));
        return Err(webhook_problem(refused));
    };

    if let Some(sealed) = sealed {
        account.webhook_secrets = deps
            .secrets
            .open(&deps.keys, account_id, &sealed)
            .await
            .map_err(internal)?;
    }
    let webhook = WebhookRequest {
        public_url: &public_url,
        headers: req.headers(),
        body,
        now,
    };
    provider
        .verify(&webhook, &account.secrets_for(provider_name))
        .map_err(webhook_problem)?;
    // Read in full, and checked against what the account is bound to, before anything of it
    // is written: a refused webhook leaves no trace.
    let parsed = provider.parse(&webhook).map_err(webhook_problem)?;
    if let Some(why) = unbound(provider, &account, &webhook, parsed.as_ref()) {
        tracing::warn!(
            provider = provider_name,
            account_id,
            why,
            "webhook refused: not bound to this account"
        );
        return Err(Problem::new(403, "not-bound", "Forbidden", why));
    }
    if let Some(leg) = provider.leg(&webhook) {
        remember(deps, &account, provider_name, &leg, now)
            .await
            .map_err(internal)?;
    }
    if let Some(key) = provider.answered_leg(&webhook) {
        let leg = live_leg(&deps.table, account_id, provider_name, &key, now)
            .await
            .map_err(internal)?;
        match leg {
            Some(leg) => note_forward_answered(&deps.table, provider_name, &leg, now)
                .await
                .map_err(internal)?,
            // The answer before the leg: kept for the leg to find (`remember`).
            None => deps
                .table
                .put_leg(&leg_item(
                    account_id,
                    provider_name,
                    &answered_leg_key(&key),
                    Direction::Outbound,
                    CallerFields::default(),
                    None,
                    now,
                ))
                .await
                .map_err(internal)?,
        }
    }
    let Some(mut event) = parsed else {
        tracing::info!(
            provider = provider_name,
            account_id,
            "progress callback acknowledged, not stored"
        );
        return Ok(provider.ack());
    };

    // Some providers need an earlier leg of the same call to say which way it went and who
    // the prospect is (Vonage connect legs, Telnyx hangups).
    let leg_key = provider.leg_key(&event);
    let remembered = match &leg_key {
        Some(key) => live_leg(&deps.table, account_id, provider_name, key, now)
            .await
            .map_err(internal)?,
        None => None,
    };
    if let (Some(key), None) = (&leg_key, &remembered) {
        if waits_for_leg(&event, now) {
            // The earlier leg (which says which way the call went and who the prospect is)
            // has not arrived: the provider may be retrying it after an error. Read alone,
            // this event would be stored as the business's own call and the good reading
            // lost. It is kept as pending (acknowledged: nothing is lost, whatever the
            // provider's retry policy); the leg completes it, or the re-decide sweep stores it
            // as it reads after LEG_WAIT.
            let mut pending = protect(&deps.keys, &account, &event, now)
                .await
                .map_err(internal)?;
            pending.sk = pending_sk(provider_name, key);
            pending.expires_at = retention::expires(now, retention::PENDING_DAYS);
            let shard = shard_of(&pending.sk, deps.due_shards);
            pending.gsi1pk = Some(undecided_pk(shard));
            pending.gsi1sk = Some(undecided_sk(&pending.received_at, &pending.sk));
            deps.table.put_pending(&pending).await.map_err(internal)?;
            tracing::info!(
                provider = provider_name,
                account_id,
                call_id = %event.call_id,
                "event before its earlier leg: kept pending"
            );
            return Ok(provider.ack());
        }
    }
    let call = match remembered {
        Some(leg) if leg.forwarded && event.status == CallStatus::Answered => {
            // The business picked up the forwarded call: the prospect's human contact
            // (rule 5), recorded as their answered call (it cancels whatever is pending,
            // in any order), and the group's answer for its inbound leg.
            note_forward_answered(&deps.table, provider_name, &leg, now)
                .await
                .map_err(internal)?;
            event.direction = Direction::Inbound;
            call_item(account_id, &event, leg.caller, now)
        }
        Some(leg) if leg.forwarded => {
            tracing::info!(
                provider = provider_name,
                account_id,
                call_id = %event.call_id,
                "unanswered forwarded leg of an inbound call: its inbound leg decides; not stored"
            );
            return Ok(provider.ack());
        }
        Some(leg) => {
            event.direction = leg.direction;
            if event.status == CallStatus::Answered && leg.direction == Direction::Outbound {
                // An outgoing leg of a group answered (the inbound leg's marker may have come
                // after it): the group's answer for its inbound leg, if it has one.
                note_forward_answered(&deps.table, provider_name, &leg, now)
                    .await
                    .map_err(internal)?;
            }
            if let (CallStatus::Answered, Direction::Inbound, Some(group)) =
                (event.status, leg.direction, &leg.group)
                && transfer_unanswered(&deps.table, account_id, provider_name, group, now)
                    .await
                    .map_err(internal)?
            {
                // Answered by the application, then transferred, and nobody at the business
                // picked up: missed (Telnyx answer-then-transfer). Dated at the leg's start,
                // so that a transfer leg's answer reported late still refuses it (rule 5).
                event.status = CallStatus::NoAnswer;
                event.provider_status = format!("{}; transfer not answered", event.provider_status);
                if event.started_at.is_some() {
                    event.ended_at = None;
                }
            }
            call_item(account_id, &event, leg.caller, now)
        }
        None => protect(&deps.keys, &account, &event, now)
            .await
            .map_err(internal)?,
    };
    let mut call = call;
    let shard = shard_of(&call.sk, deps.due_shards);
    call.gsi1pk = Some(undecided_pk(shard));
    call.gsi1sk = Some(undecided_sk(&call.received_at, &call.sk));
    let stored = deps.table.put_call(&call).await.map_err(internal)?;
    tracing::info!(
        provider = provider_name,
        account_id,
        call_id = %event.call_id,
        status = ?event.status,
        direction = ?event.direction,
        caller = %call.caller_masked.as_deref().unwrap_or(&call.caller),
        redelivery = !stored,
        "{}",
        if stored { "call stored" } else { "redelivery acknowledged, nothing changed" }
    );
    Ok(provider.ack())
}

/// Classify the prospect's number and turn the event into a call item of `account`: see
/// [`protect_caller`].
pub async fn protect<K: NumberProtector>(
    keys: &K,
    account: &Account,
    event: &CallEvent,
    now: DateTime<Utc>,
) -> Result<CallItem, PortError> {
    let caller = protect_caller(keys, account, event.counterpart()).await?;
    Ok(call_item(&account.account_id, event, caller, now))
}

/// The protected facts of a raw number: classification (libphonenumber), a masked form for
/// humans, and for a valid number its keyed hash (KMS `GenerateMac`). The number is sealed
/// (KMS `GenerateDataKey`, in parallel with the hash) only when it may be texted: a mobile in
/// one of the account's `allowed_countries` (rule 2). A landline, a foreign or an invalid
/// number keeps facts and hash only (data minimisation, RGPD art. 5.1.c). Never keeps the
/// clear number.
pub async fn protect_caller<K: NumberProtector>(
    keys: &K,
    account: &Account,
    raw: &str,
) -> Result<CallerFields, PortError> {
    let account_id = account.account_id.as_str();
    Ok(match phone::classify(raw, DEFAULT_REGION) {
        Caller::Withheld => CallerFields {
            caller: "withheld".into(),
            ..CallerFields::default()
        },
        Caller::Invalid => CallerFields {
            caller: "invalid".into(),
            ..CallerFields::default()
        },
        Caller::Number {
            e164,
            line_type,
            region,
        } => {
            let textable = line_type == LineType::Mobile
                && region
                    .as_ref()
                    .is_some_and(|r| account.allowed_countries.contains(r));
            let (sealed, hash) = if textable {
                let (sealed, hash) =
                    tokio::try_join!(keys.seal(account_id, &e164), keys.hash(account, &e164))?;
                (Some(sealed), hash)
            } else {
                (None, keys.hash(account, &e164).await?)
            };
            CallerFields {
                caller: "number".into(),
                line_type: Some(line_type),
                region,
                caller_hash: Some(hash),
                caller_masked: Some(e164.masked()),
                number: sealed,
            }
        }
    })
}

/// The call item for `event` with the prospect's protected facts, received at `now` (UTC).
pub fn call_item(
    account_id: &str,
    event: &CallEvent,
    caller: CallerFields,
    now: DateTime<Utc>,
) -> CallItem {
    // A call cannot have happened after we heard of it: a future instant (a provider's clock,
    // a forged body) would defeat the age check and the deferral deadline.
    let happened_at = event.ended_at.or(event.started_at).unwrap_or(now).min(now);
    CallItem {
        pk: account_pk(account_id),
        sk: call_sk(event.provider, &event.call_id),
        account_id: account_id.to_string(),
        provider: event.provider.to_string(),
        call_id: event.call_id.clone(),
        direction: event.direction,
        status: event.status,
        provider_status: event.provider_status.clone(),
        caller: caller.caller,
        line_type: caller.line_type,
        region: caller.region,
        caller_hash: caller.caller_hash,
        caller_masked: caller.caller_masked,
        number: caller.number,
        started_at: event.started_at.map(ts),
        ended_at: event.ended_at.map(ts),
        ring_seconds: event.ring_seconds,
        received_at: ts(now),
        happened_at: ts(happened_at),
        outcome: None,
        reason: None,
        message_id: None,
        due_at: None,
        sent_at: None,
        decided_at: None,
        gsi1pk: None,
        gsi1sk: None,
        expires_at: retention::expires(now, retention::CALL_DAYS),
    }
}

/// Whether `event`, which needs an earlier leg that has not arrived, should wait for it: a
/// missed status, within [`LEG_WAIT`] of the call (an instant in the future counts as now).
/// After that, or without any instant in the event, it is stored as it reads. An answer is
/// never held: a business's own call back (a lone outbound leg) must cancel a waiting SMS at
/// once (rule 5), and an answered leg whose leg A never came reads as the business's own
/// call (known limit, `docs/providers.md`).
pub fn waits_for_leg(event: &CallEvent, now: DateTime<Utc>) -> bool {
    let missed = event.status != CallStatus::Answered && event.status != CallStatus::Other;
    let at = event.ended_at.or(event.started_at).map(|at| at.min(now));
    missed && at.is_some_and(|at| now - at <= LEG_WAIT)
}

/// Remember `leg` (once: its first event wins, and KMS is not called again for a known leg).
async fn remember<T: AccountStore + CallStore, K: NumberProtector + SecretsVault, C: Clock>(
    deps: &Deps<T, K, C>,
    account: &Account,
    provider: &str,
    leg: &Leg,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let account_id = account.account_id.as_str();
    if let Some(known) = live_leg(&deps.table, account_id, provider, &leg.key, now).await? {
        // Known already; an event that waited for it may still be pending if completing it
        // failed after the leg was written (the provider's retry brings us here).
        return complete_pending(deps, account_id, provider, &leg.key, &known).await;
    }
    // Legs grouped by the provider: an inbound leg marks its group with its prospect's facts
    // (never the sealed number); an outbound leg of a marked group is that call forwarded to
    // the business (its inbound leg decides), and takes the prospect's facts from the marker.
    let group_marker = match (&leg.group, leg.direction) {
        (Some(group), Direction::Outbound) => {
            live_leg(&deps.table, account_id, provider, &group_key(group), now).await?
        }
        _ => None,
    };
    let forwarded = group_marker.is_some();
    let caller = match group_marker {
        Some(marker) => marker.caller,
        None => protect_caller(&deps.keys, account, &leg.counterpart).await?,
    };
    let marker = |key: String| {
        leg_item(
            account_id,
            provider,
            &key,
            leg.direction,
            caller.without_number(),
            leg.group.clone(),
            now,
        )
    };
    match (&leg.group, leg.direction) {
        (Some(group), Direction::Inbound) => deps.table.put_leg(&marker(group_key(group))).await?,
        (Some(group), Direction::Outbound) => {
            // Any outbound leg of a group is a transfer attempt for the group's inbound leg,
            // if it has one: marked even when the inbound leg's marker is not there yet (the
            // two legs' events may be handled at the same time).
            deps.table.put_leg(&marker(transfer_key(group))).await?;
            // Its answer may have been handled before it (`answered_leg` without a leg).
            let answer_key = answered_leg_key(&leg.key);
            if live_leg(&deps.table, account_id, provider, &answer_key, now)
                .await?
                .is_some()
            {
                deps.table.put_leg(&marker(answered_key(group))).await?;
            }
        }
        (None, _) => {}
    }
    let item = LegItem {
        forwarded,
        ..leg_item(
            account_id,
            provider,
            &leg.key,
            leg.direction,
            caller,
            leg.group.clone(),
            now,
        )
    };
    deps.table.put_leg(&item).await?;
    complete_pending(deps, account_id, provider, &leg.key, &item).await
}

/// The marker of a group of legs: its inbound leg's prospect facts (no sealed number).
fn group_key(group: &str) -> String {
    format!("group:{group}")
}

/// Present when an outbound leg forwarded the group's inbound call (a transfer was tried).
fn transfer_key(group: &str) -> String {
    format!("transfer:{group}")
}

/// Present when an outbound leg of the group was answered (the business picked up).
fn answered_key(group: &str) -> String {
    format!("answered:{group}")
}

/// Present when leg `key` was reported answered before intake knew the leg.
fn answered_leg_key(key: &str) -> String {
    format!("answered-leg:{key}")
}

/// A leg item of `account_id` kept [`LEG_RETENTION_DAYS`] from `now`, under `key` (a leg's
/// own key or a group marker's); `forwarded` for outbound markers.
fn leg_item(
    account_id: &str,
    provider: &str,
    key: &str,
    direction: Direction,
    caller: CallerFields,
    group: Option<String>,
    now: DateTime<Utc>,
) -> LegItem {
    LegItem {
        pk: account_pk(account_id),
        sk: leg_sk(provider, key),
        direction,
        caller,
        forwarded: direction == Direction::Outbound,
        group,
        received_at: ts(now),
        expires_at: retention::expires(now, LEG_RETENTION_DAYS),
    }
}

/// The leg (or marker) stored under `key`, unless it expired (DynamoDB's TTL deletes late:
/// an expired one is no longer ours to use).
async fn live_leg<T: CallStore>(
    table: &T,
    account_id: &str,
    provider: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<LegItem>, PortError> {
    Ok(table
        .get_leg(account_id, provider, key)
        .await?
        .filter(|leg| retention::is_live(leg.expires_at, now)))
}

/// Remember that outbound leg `leg` of a group was answered. Nothing for other legs.
async fn note_forward_answered<T: CallStore>(
    table: &T,
    provider: &str,
    leg: &LegItem,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let (Direction::Outbound, Some(group)) = (leg.direction, &leg.group) else {
        return Ok(());
    };
    let marker = LegItem {
        sk: leg_sk(provider, &answered_key(group)),
        received_at: ts(now),
        expires_at: retention::expires(now, LEG_RETENTION_DAYS),
        ..leg.clone()
    };
    table.put_leg(&marker).await
}

/// Whether the group's inbound call was transferred and no transfer leg was answered
/// (Telnyx answer-then-transfer: the inbound leg ends `normal_clearing` either way).
async fn transfer_unanswered<T: CallStore>(
    table: &T,
    account_id: &str,
    provider: &str,
    group: &str,
    now: DateTime<Utc>,
) -> Result<bool, PortError> {
    if live_leg(table, account_id, provider, &transfer_key(group), now)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let answered = live_leg(table, account_id, provider, &answered_key(group), now).await?;
    Ok(answered.is_none())
}

/// An event of this call that came before the leg (kept pending) is stored now, read the
/// right way round with the leg's direction and prospect; a forwarded leg's event is not a
/// call of its own, unless it is its answer (the caller's human contact). The pending item is forgotten after the call is stored (a crash in
/// between leaves it to the re-decide sweep, whose conditional put then changes nothing).
async fn complete_pending<
    T: AccountStore + CallStore,
    K: NumberProtector + SecretsVault,
    C: Clock,
>(
    deps: &Deps<T, K, C>,
    account_id: &str,
    provider: &str,
    key: &str,
    leg: &LegItem,
) -> Result<(), PortError> {
    let Some(pending) = deps.table.get_pending(account_id, provider, key).await? else {
        return Ok(());
    };
    // A forwarded leg's answer that came before the leg: the group's answer, and the
    // caller's human contact, as when it comes after (see `handle`).
    let forward_answered = leg.forwarded && pending.status == CallStatus::Answered;
    if forward_answered {
        let now = deps.clock.now();
        note_forward_answered(&deps.table, provider, leg, now).await?;
    }
    if !leg.forwarded || forward_answered {
        let mut call = call_from_pending(&pending, deps.due_shards);
        call.direction = if forward_answered {
            Direction::Inbound
        } else {
            leg.direction
        };
        // The inbound leg of a transferred call that no transfer leg answered (as in `handle`).
        if let (CallStatus::Answered, Direction::Inbound, Some(group), false) =
            (call.status, call.direction, &leg.group, forward_answered)
            && transfer_unanswered(&deps.table, account_id, provider, group, deps.clock.now())
                .await?
        {
            call.status = CallStatus::NoAnswer;
            call.provider_status = format!("{}; transfer not answered", call.provider_status);
        }
        call.caller = leg.caller.caller.clone();
        call.line_type = leg.caller.line_type;
        call.region = leg.caller.region.clone();
        call.caller_hash = leg.caller.caller_hash.clone();
        call.caller_masked = leg.caller.caller_masked.clone();
        call.number = leg.caller.number.clone();
        deps.table.put_call(&call).await?;
        tracing::info!(provider, account_id, call_id = %call.call_id, "pending event completed by its leg: call stored");
    }
    deps.table.delete_pending(account_id, &pending.sk).await
}

/// Why a verified webhook is not this account's, if it is not (README, "Binding webhooks to
/// their account"):
///
/// * the account has a `provider_accounts` entry for this provider, and the request names
///   another provider account, or none ([`Provider::account_identity`]);
/// * the account lists `tracked_numbers`, and the call event has none of them as caller or
///   callee. Events completed by an earlier leg of the same call ([`Provider::leg_key`]:
///   Vonage connect legs, whose caller and callee may both be other numbers, and Telnyx
///   hangups) are bound through their provider account instead.
fn unbound(
    provider: &dyn Provider,
    account: &Account,
    webhook: &WebhookRequest<'_>,
    event: Option<&CallEvent>,
) -> Option<&'static str> {
    if let Some(expected) = account.provider_accounts.get(provider.name()) {
        match provider.account_identity(webhook) {
            Some(named) if named == *expected => {}
            Some(_) => {
                return Some(
                    "the webhook names another provider account than the one this account is bound to (provider_accounts)",
                );
            }
            None => {
                return Some(
                    "the webhook names no provider account, and this account is bound to one (provider_accounts)",
                );
            }
        }
    }
    if let Some(event) = event
        && !account.tracked_numbers.is_empty()
        && provider.leg_key(event).is_none()
        && !account.is_tracked(&event.from)
        && !account.is_tracked(&event.to)
    {
        return Some("the call involves none of this account's tracked_numbers");
    }
    None
}

/// What an unknown account's webhook is verified against, so that it is refused the way a
/// wrong secret is: a valid Ed25519 public key (RFC 8032 test 1, for Telnyx), which is also a
/// secret no account holds for the other providers.
const UNKNOWN_ACCOUNT_SECRET: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn webhook_problem(err: WebhookError) -> Problem {
    match err {
        WebhookError::Unauthorized(why) => Problem::new(401, "unauthorized", "Unauthorized", why),
        WebhookError::Malformed(why) => Problem::new(400, "malformed-webhook", "Bad Request", why),
    }
}

fn internal(err: PortError) -> Problem {
    tracing::error!(error = %err, "webhook intake failed");
    Problem::new(
        500,
        "internal",
        "Internal Server Error",
        format!("{} unavailable; retry later", err.service),
    )
}

/// An RFC 9457 problem as an HTTP response.
pub fn problem_response(problem: &Problem) -> Response<Body> {
    Response::builder()
        .status(problem.status)
        .header(header::CONTENT_TYPE, problem::CONTENT_TYPE)
        .body(Body::from(problem.to_json()))
        .expect("valid problem response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rappel::call::{CallStatus, Direction};
    use rappel::phone::E164;

    fn account(id: &str) -> Account {
        Account::from_json(&format!(r#"{{"account_id":"{id}","company_name":"Acme"}}"#)).unwrap()
    }
    fn acme() -> Account {
        account("acme")
    }

    #[tokio::test]
    async fn only_a_number_that_may_be_texted_is_sealed() {
        let now = "2026-11-27T17:00:00Z".parse().unwrap();
        // A landline, a Belgian mobile (not in allowed_countries) and a mobile: all hashed
        // (opt-outs and dedup need it), only the mobile sealed.
        for (raw, sealed) in [
            ("+33144000001", false),
            ("+32470000001", false),
            ("+33600000001", true),
        ] {
            let caller = protect_caller(&FakeKeys, &acme(), raw).await.unwrap();
            assert_eq!(caller.caller, "number");
            assert!(caller.caller_hash.is_some());
            assert_eq!(
                caller.number.is_some(),
                sealed,
                "{}",
                caller.caller_masked.unwrap()
            );
        }
        // An account that allows Belgium seals the Belgian mobile.
        let mut be = acme();
        be.allowed_countries.push("BE".into());
        let caller = protect_caller(&FakeKeys, &be, "+32470000001")
            .await
            .unwrap();
        assert!(caller.number.is_some());
        let item = call_item(
            "acme",
            &event("+33600000001", "+33144000000", Direction::Inbound),
            caller,
            now,
        );
        assert_eq!(item.expires_at - now.timestamp(), 30 * 86_400);
    }

    #[test]
    fn route_takes_the_last_segments() {
        assert_eq!(route("/webhooks/twilio/acme"), Some(("twilio", "acme")));
        assert_eq!(
            route("/prod/webhooks/generic/acme/"),
            Some(("generic", "acme"))
        );
        assert_eq!(route("/r/abc"), None);
        assert_eq!(route("/webhooks//acme"), None);
        assert_eq!(route("/"), None);
    }

    /// Keys that record what they were asked, deterministic output.
    struct FakeKeys;
    impl NumberProtector for FakeKeys {
        async fn seal(&self, account_id: &str, number: &E164) -> Result<String, PortError> {
            Ok(format!("sealed:{account_id}:{}", number.expose().len()))
        }
        async fn hash(&self, account: &Account, number: &E164) -> Result<String, PortError> {
            Ok(format!(
                "hash:{}:{}",
                account.account_id,
                &number.expose()[number.expose().len() - 2..]
            ))
        }
    }

    fn event(from: &str, to: &str, direction: Direction) -> CallEvent {
        CallEvent {
            provider: "generic",
            call_id: "c-1".into(),
            direction,
            status: CallStatus::NoAnswer,
            provider_status: "no_answer".into(),
            from: from.into(),
            to: to.into(),
            started_at: None,
            ended_at: None,
            ring_seconds: Some(20),
        }
    }

    #[tokio::test]
    async fn protect_seals_and_hashes_the_counterpart_and_keeps_no_clear_number() {
        let now = "2026-11-27T17:00:00Z".parse().unwrap();
        let item = protect(
            &FakeKeys,
            &acme(),
            &event("+33600000001", "+33144000000", Direction::Inbound),
            now,
        )
        .await
        .unwrap();
        assert_eq!(item.sk, "CALL#generic#c-1");
        assert_eq!(item.caller, "number");
        assert_eq!(item.region.as_deref(), Some("FR"));
        assert_eq!(item.line_type, Some(rappel::phone::LineType::Mobile));
        assert_eq!(item.caller_hash.as_deref(), Some("hash:acme:01"));
        assert_eq!(item.number.as_deref(), Some("sealed:acme:12"));
        assert_eq!(item.caller_masked.as_deref(), Some("+33 6•• •• •• 01"));
        assert_eq!(item.happened_at, "2026-11-27T17:00:00Z");
        let json = serde_json::to_string(&item).unwrap();
        assert!(
            !json.contains("600000001") && !json.contains("144000000"),
            "{json}"
        );

        // Outbound: the prospect is the callee.
        let out = protect(
            &FakeKeys,
            &acme(),
            &event("+33144000000", "+33600000002", Direction::Outbound),
            now,
        )
        .await
        .unwrap();
        assert_eq!(out.caller_hash.as_deref(), Some("hash:acme:02"));

        // A call cannot have happened after we heard of it.
        let mut future = event("+33600000003", "+33144000000", Direction::Inbound);
        future.ended_at = Some("2027-06-01T10:00:00Z".parse().unwrap());
        let clamped = protect(&FakeKeys, &acme(), &future, now).await.unwrap();
        assert_eq!(clamped.happened_at, "2026-11-27T17:00:00Z");

        let withheld = protect(
            &FakeKeys,
            &acme(),
            &event("anonymous", "+33144000000", Direction::Inbound),
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                withheld.caller.as_str(),
                withheld.caller_hash,
                withheld.number
            ),
            ("withheld", None, None)
        );
    }

    // ---- sample events (events/webhook-intake-*.json) ------------------------------------

    /// The public base URL the samples' signatures were made for (see events/README.md).
    const SAMPLE_BASE_URL: &str = "https://rappel.example.fr";
    /// Demo account's secrets (infra/local/accounts/demo.json).
    const TWILIO_TOKEN: &str = "demo-twilio-auth-token";
    const GENERIC_SECRET: &str = "demo-generic-secret";
    /// `x-rappel-timestamp` of the generic sample: 2026-11-27T17:29:42Z.
    const GENERIC_SIGNED_AT: i64 = 1_795_800_582;

    /// Route parts (provider, account id, public URL), result of `verify` with `secrets` and
    /// result of `parse` for a sample event read the way Lambda hands it to the function,
    /// received at `now`.
    type Checked = (
        (String, String, String),
        Result<(), WebhookError>,
        Result<Option<CallEvent>, WebhookError>,
    );

    fn verify_and_parse(
        event_json: &str,
        secrets: &[&str],
        public_base_url: &str,
        now: DateTime<Utc>,
    ) -> Checked {
        let req = lambda_http::request::from_str(event_json).expect("sample parses");
        assert_eq!(req.method(), Method::POST);
        let parts = webhook_request_parts(&req, public_base_url).expect("a webhook route");
        let provider = providers::by_name(parts.provider).expect("a supported provider");
        let webhook = WebhookRequest {
            public_url: &parts.public_url,
            headers: req.headers(),
            body: req.body().as_ref(),
            now,
        };
        (
            (
                parts.provider.to_owned(),
                parts.account_id.to_owned(),
                parts.public_url.clone(),
            ),
            provider.verify(&webhook, secrets),
            provider.parse(&webhook),
        )
    }

    /// The counterpart, masked, if it is a valid mobile number (never the number in clear).
    fn masked_counterpart(event: &CallEvent) -> Option<String> {
        match phone::classify(event.counterpart(), DEFAULT_REGION) {
            Caller::Number {
                e164,
                line_type: rappel::phone::LineType::Mobile,
                ..
            } => Some(e164.masked()),
            _ => None,
        }
    }

    #[test]
    fn twilio_samples_verify_and_parse_in_both_payload_versions() {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;

        let v2 = include_str!("../../../events/webhook-intake-twilio.json");
        let v1 = include_str!("../../../events/webhook-intake-twilio-v1.json");
        assert!(matches!(
            lambda_http::request::from_str(v2)
                .unwrap()
                .request_context(),
            RequestContext::ApiGatewayV2(_)
        ));
        let rest = lambda_http::request::from_str(v1).unwrap();
        assert!(matches!(
            rest.request_context(),
            RequestContext::ApiGatewayV1(_)
        ));
        // lambda_http puts the REST stage in front of the path; the route ignores it.
        assert!(rest.uri().path().ends_with("/webhooks/twilio/demo"));

        let now = "2026-11-27T17:30:00Z".parse().unwrap();
        let mut events = Vec::new();
        for sample in [v2, v1] {
            let (parts, verified, parsed) =
                verify_and_parse(sample, &["old-token", TWILIO_TOKEN], SAMPLE_BASE_URL, now);
            assert_eq!(
                parts,
                (
                    "twilio".into(),
                    "demo".into(),
                    "https://rappel.example.fr/webhooks/twilio/demo".into()
                )
            );
            assert_eq!(verified, Ok(()));
            let event = parsed.unwrap().expect("a Dial action is a call outcome");
            assert_eq!(event.provider, "twilio");
            assert_eq!(event.call_id, "CA9b2e4c6a8d0f1e3a5c7b9d2f4a6c8e01");
            assert_eq!(event.status, CallStatus::NoAnswer);
            assert_eq!(event.direction, Direction::Inbound);
            assert_eq!(event.provider_status, "no-answer");
            assert_eq!((event.started_at, event.ended_at), (None, None));
            assert_eq!(
                masked_counterpart(&event).as_deref(),
                Some("+33 6•• •• •• 01")
            );
            events.push(event);

            // The signature is bound to the token and to the public URL.
            let (_, wrong_token, _) = verify_and_parse(sample, &["other"], SAMPLE_BASE_URL, now);
            assert_eq!(
                wrong_token,
                Err(WebhookError::Unauthorized(
                    "X-Twilio-Signature does not match"
                ))
            );
            let (_, wrong_url, _) =
                verify_and_parse(sample, &[TWILIO_TOKEN], "http://127.0.0.1:3000", now);
            assert_eq!(
                wrong_url,
                Err(WebhookError::Unauthorized(
                    "X-Twilio-Signature does not match"
                ))
            );
        }
        // Same webhook, same event, whichever API Gateway flavour delivered it.
        assert_eq!(events[0], events[1]);
    }

    #[test]
    fn twilio_sample_signature_is_what_twilio_would_send() {
        let req = lambda_http::request::from_str(include_str!(
            "../../../events/webhook-intake-twilio.json"
        ))
        .unwrap();
        // API Gateway base64-encoded the form; lambda_http decoded it.
        let body = req.body().as_ref();
        assert!(body.starts_with(b"AccountSid=AC"));
        assert_eq!(
            req.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
            body.len().to_string()
        );
        let signature = rappel::providers::twilio::sign(
            TWILIO_TOKEN,
            "https://rappel.example.fr/webhooks/twilio/demo",
            body,
        );
        assert_eq!(signature, "3WK+gusmmjpPzWLCwx97wust0H8=");
        assert_eq!(
            req.headers()[rappel::providers::twilio::SIGNATURE_HEADER],
            signature.as_str()
        );
    }

    #[test]
    fn generic_sample_verifies_only_around_its_timestamp_and_parses() {
        let json = include_str!("../../../events/webhook-intake-generic.json");
        let signed_at = DateTime::from_timestamp(GENERIC_SIGNED_AT, 0).unwrap();
        let (parts, verified, parsed) =
            verify_and_parse(json, &[GENERIC_SECRET], SAMPLE_BASE_URL, signed_at);
        assert_eq!(
            parts,
            (
                "generic".into(),
                "demo".into(),
                "https://rappel.example.fr/webhooks/generic/demo".into()
            )
        );
        assert_eq!(verified, Ok(()));
        let event = parsed.unwrap().expect("a final status");
        assert_eq!(event.provider, "generic");
        assert_eq!(event.call_id, "ct-20261127-000101");
        assert_eq!(event.status, CallStatus::NoAnswer);
        assert_eq!(event.direction, Direction::Inbound);
        assert_eq!(event.provider_status, "no_answer");
        assert_eq!(
            event.started_at,
            Some("2026-11-27T17:29:12Z".parse().unwrap())
        );
        assert_eq!(
            event.ended_at,
            Some("2026-11-27T17:29:40Z".parse().unwrap())
        );
        assert_eq!(event.ring_seconds, Some(28));
        assert_eq!(
            masked_counterpart(&event).as_deref(),
            Some("+33 6•• •• •• 01")
        );

        // The URL is not signed; the tolerance is 300 s either way.
        let edge = signed_at + Duration::seconds(300);
        let (_, verified, _) = verify_and_parse(json, &[GENERIC_SECRET], "http://x", edge);
        assert_eq!(verified, Ok(()));
        for late in [
            signed_at + Duration::seconds(301),
            signed_at - Duration::seconds(301),
        ] {
            let (_, verified, _) = verify_and_parse(json, &[GENERIC_SECRET], SAMPLE_BASE_URL, late);
            assert_eq!(
                verified,
                Err(WebhookError::Unauthorized(
                    "X-Rappel-Timestamp outside the tolerance"
                ))
            );
        }
        let (_, verified, _) = verify_and_parse(json, &["other"], SAMPLE_BASE_URL, signed_at);
        assert_eq!(
            verified,
            Err(WebhookError::Unauthorized(
                "X-Rappel-Signature does not match"
            ))
        );

        let req = lambda_http::request::from_str(json).unwrap();
        assert_eq!(
            req.headers()[rappel::providers::generic::SIGNATURE_HEADER],
            rappel::providers::generic::sign(
                GENERIC_SECRET,
                GENERIC_SIGNED_AT,
                req.body().as_ref()
            )
            .as_str()
        );
    }

    /// The eligibility sample (events/eligibility-stream-insert.json) is the item intake stores
    /// for the generic sample, but for the KMS outputs (sealed number, keyed hash).
    #[tokio::test]
    async fn generic_sample_is_stored_as_the_eligibility_stream_sample() {
        let json = include_str!("../../../events/webhook-intake-generic.json");
        let now = DateTime::from_timestamp(GENERIC_SIGNED_AT, 0).unwrap();
        let (_, _, parsed) = verify_and_parse(json, &[GENERIC_SECRET], SAMPLE_BASE_URL, now);
        let event = parsed.unwrap().unwrap();
        let item = protect(&FakeKeys, &account("demo"), &event, now)
            .await
            .unwrap();
        let stored = serde_json::to_value(&item).unwrap();
        let stored = stored.as_object().unwrap();

        let stream: serde_json::Value = serde_json::from_str(include_str!(
            "../../../events/eligibility-stream-insert.json"
        ))
        .unwrap();
        let image = stream["Records"][0]["dynamodb"]["NewImage"]
            .as_object()
            .unwrap();
        // Intake adds the undecided-index keys after `protect` (see tests/handle.rs).
        let mut names: Vec<&String> = image.keys().filter(|k| !k.starts_with("GSI1")).collect();
        names.sort();
        let mut stored_names: Vec<&String> = stored.keys().collect();
        stored_names.sort();
        assert_eq!(names, stored_names);
        for (name, attribute) in image {
            if name.starts_with("GSI1") {
                continue;
            }
            if name == "number" || name == "caller_hash" {
                continue; // KMS outputs; FakeKeys makes its own.
            }
            let (want, got) = match (attribute.get("S"), attribute.get("N"), &stored[name]) {
                (Some(s), None, serde_json::Value::String(got)) => {
                    (s.as_str().unwrap(), got.clone())
                }
                (None, Some(n), serde_json::Value::Number(got)) => {
                    (n.as_str().unwrap(), got.to_string())
                }
                _ => panic!("{name}: DynamoDB type differs"),
            };
            assert_eq!(got, want, "{name}");
        }
    }
}
