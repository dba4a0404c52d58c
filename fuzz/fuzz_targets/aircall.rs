//! Aircall: the token is in the body, so the input is `body \0 public_url` (see src/lib.rs).
//! The secret is the token of the sample events, so seeds pass verify.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::providers::aircall::Aircall;

fuzz_target!(|data: &[u8]| {
    rappel_fuzz::run_provider(&Aircall, data, &[], &["45XXYYZZa08", ""]);
});
