//! What the providers' own tests share: a fixture from `events/providers/`, and the check of
//! how its caller classifies.

use crate::call::CallEvent;
use crate::phone::{Caller, LineType, classify};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Fixture `file` of `events/providers/` as a provider sends it: its headers (whose names
/// must be lower-case, as API Gateway hands them over) and its raw body.
pub(crate) fn fixture(file: &str) -> (HeaderMap, Vec<u8>) {
    let path = format!("{}/../events/providers/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(file);
    let v: serde_json::Value = serde_json::from_str(&text).expect(file);
    let mut headers = HeaderMap::new();
    for (k, val) in v["headers"].as_object().expect(file) {
        assert_eq!(k, &k.to_ascii_lowercase(), "{file}");
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(val.as_str().unwrap()).unwrap(),
        );
    }
    let body = v["body"].as_str().expect(file).as_bytes().to_vec();
    (headers, body)
}

/// The event's counterpart classifies in France as a number of `line` (`None`: withheld).
pub(crate) fn assert_caller(event: &CallEvent, line: Option<LineType>, file: &str) {
    let class = classify(event.counterpart(), "FR");
    match line {
        Some(line) => assert!(
            matches!(class, Caller::Number { line_type, .. } if line_type == line),
            "{file}: {class:?}"
        ),
        None => assert_eq!(class, Caller::Withheld, "{file}"),
    }
}
