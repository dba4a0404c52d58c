//! Twilio: `body \0 public_url \0 x-twilio-signature` (see src/lib.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::providers::twilio::{SIGNATURE_HEADER, Twilio};

fuzz_target!(|data: &[u8]| {
    rappel_fuzz::run_provider(&Twilio, data, &[SIGNATURE_HEADER], &["fuzz-auth-token", ""]);
});
