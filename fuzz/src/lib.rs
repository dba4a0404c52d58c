//! Shared helpers for the fuzz targets.
//!
//! # Input format of the provider targets
//!
//! The fuzz input is split on NUL bytes:
//!
//! ```text
//! body \0 public_url \0 header_value_1 \0 header_value_2 \0 extra ...
//! ```
//!
//! * `body` is the raw webhook body (so a seed that is just a provider's body, without any
//!   NUL, is a realistic request with no signature headers);
//! * `public_url` (lossy UTF-8) defaults to `https://hooks.example.test/webhooks/<p>/acme`;
//! * the header values are given the provider's header names in order ([`HEADERS`] of each
//!   target). A value that `http::HeaderValue` refuses (control characters) is left out,
//!   as a real HTTP stack would never deliver it;
//! * anything after is for the target's own use (Vonage: claims of a self-signed JWT).
//!
//! Bodies therefore never contain a NUL byte; everything else (invalid UTF-8 included) is
//! reachable.

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use rappel::providers::{Provider, WebhookRequest};

/// Reception time of every fuzzed request: 2025-03-04T10:00:00Z (the sample events are
/// from that morning).
pub const NOW: i64 = 1_741_082_400;

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).expect("valid constant")
}

/// The NUL-separated parts of a provider input.
pub struct Parts<'a> {
    pub body: &'a [u8],
    pub url: String,
    pub rest: Vec<&'a [u8]>,
}

pub fn split<'a>(data: &'a [u8], provider: &str) -> Parts<'a> {
    let mut it = data.split(|&b| b == 0);
    let body = it.next().unwrap_or(&[]);
    let url = match it.next() {
        Some(u) => String::from_utf8_lossy(u).into_owned(),
        None => format!("https://hooks.example.test/webhooks/{provider}/acme"),
    };
    Parts {
        body,
        url,
        rest: it.collect(),
    }
}

/// Header map with `names[i]` = `values[i]` for every value the `http` crate accepts.
pub fn headers(names: &[&'static str], values: &[&[u8]]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in names.iter().zip(values) {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            h.append(HeaderName::from_static(name), v);
        }
    }
    h
}

/// Everything the intake does with a request, none of which may panic: verify (against
/// `secrets`), parse (called directly as well, since a fuzzer cannot forge signatures and
/// parse must never panic anyway), leg, leg_key, ack, and the Debug forms used in logs.
pub fn exercise(p: &dyn Provider, req: &WebhookRequest<'_>, secrets: &[&str]) {
    let _ = p.name();
    let _ = p.ack();
    let verified = p.verify(req, secrets);
    if let Err(e) = &verified {
        let _ = e.to_string();
    }
    match p.parse(req) {
        Ok(Some(event)) => {
            let _ = format!("{event:?}");
            let _ = p.leg_key(&event);
        }
        Ok(None) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Some(leg) = p.leg(req) {
        let _ = format!("{leg:?}");
    }
}

/// Split, build the request, exercise. `names` are the provider's header names.
pub fn run_provider(p: &dyn Provider, data: &[u8], names: &[&'static str], secrets: &[&str]) {
    let parts = split(data, p.name());
    let n = names.len().min(parts.rest.len());
    let h = headers(names, &parts.rest[..n]);
    let req = WebhookRequest {
        public_url: &parts.url,
        headers: &h,
        body: parts.body,
        now: now(),
    };
    exercise(p, &req, secrets);
}
