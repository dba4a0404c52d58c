//! Telnyx: `body \0 public_url \0 telnyx-timestamp \0 telnyx-signature-ed25519`
//! (see src/lib.rs). Keys: RFC 8032 test 1 public key, an empty one and a non-key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::providers::telnyx::{SIGNATURE_HEADER, TIMESTAMP_HEADER, Telnyx};

fuzz_target!(|data: &[u8]| {
    rappel_fuzz::run_provider(
        &Telnyx,
        data,
        &[TIMESTAMP_HEADER, SIGNATURE_HEADER],
        &["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "", "not-a-key"],
    );
});
