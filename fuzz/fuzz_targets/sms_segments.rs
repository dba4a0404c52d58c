//! `sms::segments`, `first_non_gsm`, `render` and `validate_template` on arbitrary text:
//! input `template \0 company \0 link_len` (link_len: first byte of the last part, 0..=255;
//! an even length also tries the account with a short code).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::sms;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut parts = s.split('\0');
    let template = parts.next().unwrap_or("");
    let company = parts.next().unwrap_or("Plomberie Martin");
    let link_len = parts.next().and_then(|p| p.bytes().next()).map_or(40, usize::from);

    let _ = sms::segments(s);
    let _ = sms::segments(template);
    let _ = sms::first_non_gsm(template);
    let _ = sms::render(
        template,
        &sms::Fill {
            company,
            link: "https://r.example.test/r/AAAAAAAAAAAAAAAAAAAAAA",
            optout: "https://r.example.test/o/AAAAAAAAAAAAAAAAAAAAAA",
            short_code: "36173",
        },
    );
    let short_code = (link_len % 2 == 0).then_some("36173");
    match sms::validate_template(template, company, link_len, short_code) {
        Ok(size) => {
            let _ = format!("{size:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
