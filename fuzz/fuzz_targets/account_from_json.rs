//! `Account::from_json` on arbitrary text, then what callers do with an accepted account.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::account::{self, Account};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = account::derive_sender_id(s);
    let _ = account::is_valid_sender_id(s);
    match Account::from_json(s) {
        Ok(a) => {
            let _ = a.sender_id();
            for p in ["twilio", "generic", "vonage", "telnyx", "aircall", "plivo", ""] {
                let _ = a.secrets_for(p);
            }
            let _ = format!("{a:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
