//! The pages: askama templates (escaped by default), their views, the headers every page
//! carries. Their texts, slot labels and zone names are in [`crate::lang`].

use crate::lang::{Lang, Texts};
use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lambda_http::http::StatusCode;
use lambda_http::http::header::{self, HeaderName, HeaderValue};
use lambda_http::{Body, Response};
use rappel::items::{ConsentRecord, ts};
use rappel::slots::Slot;

/// Content-Security-Policy of every page: no script, no external resource, inline styles
/// only, forms post to this origin, never framed (the opt-out button must not be
/// clickjacked).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// ------------------------------------------------------------------------------- pages

/// What the form shows besides the slots: an error and the values typed so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormState {
    pub(crate) error: Option<crate::form::FormError>,
    /// A confirmation to show (`Votre rappel est annulé.`).
    pub(crate) notice: Option<&'static str>,
    pub(crate) name: String,
    pub(crate) message: String,
    /// Another number to call was typed: it is not sent back (promise 3), the page asks
    /// for it again.
    pub(crate) phone_typed: bool,
    /// The slot the prospect chose (re-checked only when it is still valid).
    pub(crate) chosen: Option<DateTime<Utc>>,
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
    /// `fr` / `en`: `<html lang>` and the form's `lang` field.
    pub lang: &'static str,
    pub t: &'static Texts,
    pub company: &'a str,
    pub book_action: String,
    pub opt_out_action: String,
    /// Label of the booked slot: the confirmation replaces the form.
    pub booked_label: Option<String>,
    /// The other number the booking will be called on, masked.
    pub booked_number: Option<String>,
    pub opted_out: bool,
    pub days: Vec<DayView>,
    pub error: Option<&'a str>,
    pub name: &'a str,
    pub message: &'a str,
    /// The error is about the other number (`aria-invalid` on its field).
    pub phone_error: bool,
    /// A number was typed and another field was refused: ask for it again (never echoed).
    pub phone_again: bool,
    /// Days another number to call is kept after the SMS (privacy notice).
    pub number_days: i64,
    pub name_max: usize,
    pub message_max: usize,
    pub phone_max: usize,
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
    pub lang: &'static str,
    pub t: &'static Texts,
    pub company: Option<&'a str>,
    pub heading: &'a str,
    pub text: String,
    pub opt_out_action: Option<String>,
}

pub(crate) fn render(lang: Lang, template: &impl Template) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template rendering failed");
        let t = lang.texts();
        format!(
            "<!doctype html><html lang=\"{}\"><title>{}</title><p>{}</p></html>",
            lang.code(),
            t.error_heading,
            t.error_text
        )
    })
}

/// A notice page without company: a heading and a sentence.
fn notice(lang: Lang, status: StatusCode, heading: &str, text: &str) -> Response<Body> {
    let page = NoticePage {
        lang: lang.code(),
        t: lang.texts(),
        company: None,
        heading,
        text: text.to_string(),
        opt_out_action: None,
    };
    html(lang, status, render(lang, &page))
}

pub(crate) fn forbidden(lang: Lang) -> Response<Body> {
    let t = lang.texts();
    notice(
        lang,
        StatusCode::FORBIDDEN,
        t.refused_heading,
        t.cross_site_text,
    )
}

pub(crate) fn too_many_requests(lang: Lang) -> Response<Body> {
    let t = lang.texts();
    let mut response = notice(
        lang,
        StatusCode::TOO_MANY_REQUESTS,
        t.too_many_heading,
        t.too_many_text,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
    response
}

pub(crate) fn not_found(lang: Lang) -> Response<Body> {
    let t = lang.texts();
    notice(
        lang,
        StatusCode::NOT_FOUND,
        t.not_found_heading,
        t.not_found_text,
    )
}

pub(crate) fn method_not_allowed(lang: Lang, allow: &'static str) -> Response<Body> {
    let t = lang.texts();
    let mut response = notice(
        lang,
        StatusCode::METHOD_NOT_ALLOWED,
        t.refused_heading,
        t.method_text,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

pub(crate) fn server_error(lang: Lang) -> Response<Body> {
    let t = lang.texts();
    notice(
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        t.error_heading,
        t.error_text,
    )
}

/// An HTML response with the headers every page carries.
/// The page is in `lang` (`Content-Language`), chosen from `Accept-Language` (`Vary`).
pub(crate) fn html(lang: Lang, status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
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

/// Label of instant `at` in zone `tz` in `lang` (`vendredi 22 mai, 16:30`).
pub fn local_label(lang: Lang, at: DateTime<Utc>, tz: Tz) -> String {
    lang.slot_label(at.with_timezone(&tz).naive_local())
}

/// The consent line shown above the booking button (`link.html`), word for word.
pub fn consent_text(lang: Lang, company: &str) -> String {
    lang.texts().consent(company)
}

/// The evidence of a callback request: the consent line, the language and the version of the
/// page that showed it (loi n° 2025-594, art. 3).
pub fn consent_record(lang: Lang, company: &str) -> ConsentRecord {
    ConsentRecord {
        text: consent_text(lang, company),
        language: lang.code().into(),
        page_version: page_version().to_string(),
    }
}

/// SHA-256 (first 16 hex characters) of the templates the booking page is made of and of
/// their texts in every language (`lang.rs`).
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
            // The texts, without their tests.
            include_str!("lang.rs")
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default(),
        ] {
            hash.update(source.as_bytes());
        }
        hex::encode(hash.finalize())[..16].to_string()
    })
}
