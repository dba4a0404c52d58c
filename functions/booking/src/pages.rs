//! The pages: askama templates (escaped by default), their views, the headers every page
//! carries, and the French labels of slots and zones.

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lambda_http::http::StatusCode;
use lambda_http::http::header::{self, HeaderName, HeaderValue};
use lambda_http::{Body, Response};
use rappel::items::{ConsentRecord, ts};
use rappel::slots::{self, Slot};

/// Content-Security-Policy of every page: no script, no external resource, inline styles
/// only, forms post to this origin, never framed (the opt-out button must not be
/// clickjacked).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// ------------------------------------------------------------------------------- pages

/// What the form shows besides the slots: an error and the values typed so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormState {
    pub(crate) error: Option<&'static str>,
    /// A confirmation to show (`Votre rappel est annulé.`).
    pub(crate) notice: Option<&'static str>,
    pub(crate) name: String,
    pub(crate) message: String,
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

pub(crate) fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template rendering failed");
        "<!doctype html><html lang=\"fr\"><title>Erreur</title><p>Un problème est survenu. Réessayez dans quelques instants.</p></html>".to_string()
    })
}

pub(crate) fn forbidden() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Action impossible",
        text: "Cette demande ne vient pas de la page de rappel. Ouvrez le lien reçu par SMS et réessayez.".into(),
        opt_out_action: None,
    };
    html(StatusCode::FORBIDDEN, render(&page))
}

pub(crate) fn too_many_requests() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Trop de demandes",
        text: "Trop de demandes depuis ce lien. Réessayez dans quelques minutes.".into(),
        opt_out_action: None,
    };
    let mut response = html(StatusCode::TOO_MANY_REQUESTS, render(&page));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
    response
}

pub(crate) fn not_found() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Lien introuvable",
        text: "Ce lien n'existe pas ou n'est plus valable. Vérifiez qu'il est complet, tel que reçu par SMS.".into(),
        opt_out_action: None,
    };
    html(StatusCode::NOT_FOUND, render(&page))
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Response<Body> {
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

pub(crate) fn server_error() -> Response<Body> {
    let page = NoticePage {
        company: None,
        heading: "Un problème est survenu",
        text: "Votre demande n'a pas pu être traitée. Réessayez dans quelques instants.".into(),
        opt_out_action: None,
    };
    html(StatusCode::INTERNAL_SERVER_ERROR, render(&page))
}

/// An HTML response with the headers every page carries.
pub(crate) fn html(status: StatusCode, body: String) -> Response<Body> {
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

/// French label of instant `at` in zone `tz` ("vendredi 22 mai, 16:30").
pub fn local_label(at: DateTime<Utc>, tz: Tz) -> String {
    slots::french_label(at.with_timezone(&tz).naive_local())
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
