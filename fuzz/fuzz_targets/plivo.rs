//! Plivo: `body \0 public_url \0 x-plivo-signature-v3 \0 x-plivo-signature-v3-nonce`
//! (see src/lib.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::providers::plivo::{NONCE_HEADER, Plivo, SIGNATURE_HEADER};

fuzz_target!(|data: &[u8]| {
    rappel_fuzz::run_provider(
        &Plivo,
        data,
        &[SIGNATURE_HEADER, NONCE_HEADER],
        &["MAXXXXXXXXXXXXXXXXXX", ""],
    );
});
