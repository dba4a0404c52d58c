//! Generic: `body \0 public_url \0 x-rappel-timestamp \0 x-rappel-signature` (see src/lib.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::providers::generic::{Generic, SIGNATURE_HEADER, TIMESTAMP_HEADER};

fuzz_target!(|data: &[u8]| {
    rappel_fuzz::run_provider(
        &Generic,
        data,
        &[TIMESTAMP_HEADER, SIGNATURE_HEADER],
        &["whsec_fuzz_secret", ""],
    );
});
