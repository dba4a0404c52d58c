//! Vonage: `body \0 public_url \0 authorization \0 claims` (see src/lib.rs).
//!
//! A fuzzer cannot forge the JWT's HMAC, so besides the request as given, verify also gets
//! (1) a token signed with the configured secret whose claims are the fuzzed `claims` part
//! (reaches the iat / exp / payload_hash checks), and (2) a valid token for the body
//! (reaches the success path).
#![no_main]
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use rappel::providers::vonage::{AUTHORIZATION_HEADER, Vonage};
use rappel::providers::{Provider, WebhookRequest};
use sha2::{Digest, Sha256};

const SECRET: &str = "fuzz-vonage-signature-secret";

fn token(claims: &[u8]) -> Vec<u8> {
    let signing = format!(
        "{}.{}",
        B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        B64.encode(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(signing.as_bytes());
    format!("Bearer {signing}.{}", B64.encode(mac.finalize().into_bytes())).into_bytes()
}

fn verify_with(parts: &rappel_fuzz::Parts<'_>, authorization: &[u8]) {
    let h = rappel_fuzz::headers(&[AUTHORIZATION_HEADER], &[authorization]);
    let req = WebhookRequest {
        public_url: &parts.url,
        headers: &h,
        body: parts.body,
        now: rappel_fuzz::now(),
    };
    let _ = Vonage.verify(&req, &[SECRET]);
}

fuzz_target!(|data: &[u8]| {
    rappel_fuzz::run_provider(&Vonage, data, &[AUTHORIZATION_HEADER], &[SECRET, ""]);

    let parts = rappel_fuzz::split(data, "vonage");
    if let Some(claims) = parts.rest.get(1) {
        verify_with(&parts, &token(claims));
    }
    let valid = format!(
        r#"{{"iat":{},"payload_hash":"{}"}}"#,
        rappel_fuzz::NOW,
        hex::encode(Sha256::digest(parts.body))
    );
    verify_with(&parts, &token(valid.as_bytes()));
});
