//! `phone::classify(raw, region)`: input `raw \0 region` (region "FR" when absent), plus the
//! masked forms of the result and of the raw string taken as unchecked E.164.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::phone::{Caller, E164, classify};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (raw, region) = s.split_once('\0').unwrap_or((s, "FR"));
    let caller = classify(raw, region);
    let _ = format!("{caller:?}");
    if let Caller::Number { e164, .. } = &caller {
        let _ = e164.masked();
        let _ = e164.to_string();
        // Classifying a classified number again must not panic either.
        let _ = classify(e164.expose(), region);
    }
    let unchecked = E164::from_e164_unchecked(raw);
    let _ = unchecked.masked();
});
