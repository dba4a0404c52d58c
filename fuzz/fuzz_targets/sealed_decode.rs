//! `crypto::Sealed::decode` on arbitrary text; accepted values must re-encode to a string
//! that decodes to the same value, and `open` on them must fail cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rappel::crypto::{self, Sealed};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(sealed) = Sealed::decode(s) {
        let again = Sealed::decode(&sealed.encode()).expect("encode output decodes");
        assert_eq!(again, sealed, "decode(encode(x)) == x");
        let _ = crypto::open(&[7u8; 32], b"aad", &sealed);
        let _ = crypto::open(&[7u8; 3], b"aad", &sealed);
    }
});
