//! Rappel's classification against the reference libphonenumber (Python `phonenumbers`) on
//! the corpus in `numbering/corpus.tsv`: synthetic numbers built from every territory's
//! example numbers and near misses of them (a digit more or less, digits changed), random
//! digits after every calling code, and the cases that once went wrong. Regenerate with
//! `make numbering` (tools/numbering/export.py) when the metadata is refreshed.
//!
//! A disagreement is reported by corpus line, never by number.

use rappel::phone::{Caller, LineType, classify, metadata};

fn line_type(name: &str) -> LineType {
    match name {
        "mobile" => LineType::Mobile,
        "fixed_or_mobile" => LineType::FixedOrMobile,
        "fixed_line" => LineType::FixedLine,
        "voip" => LineType::Voip,
        "special_rate" => LineType::SpecialRate,
        "unknown" => LineType::Unknown,
        other => panic!("corpus: unknown line type {other:?}"),
    }
}

#[test]
fn classification_matches_the_reference_on_the_corpus() {
    let corpus = include_str!("numbering/corpus.tsv");
    let header = corpus.lines().next().unwrap();
    assert!(
        header.contains(&format!("phonenumbers {} ", metadata::VERSION)),
        "corpus and metadata come from different releases: run `make numbering`"
    );
    let (mut total, mut valid) = (0, 0);
    let mut disagreements = Vec::new();
    for (n, line) in corpus.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (input, region) = (fields[0], fields[1]);
        let expected = match fields[2] {
            "invalid" => None,
            e164 => Some((
                e164.to_owned(),
                line_type(fields[3]),
                Some(fields[4]).filter(|r| !r.is_empty()).map(str::to_owned),
            )),
        };
        let actual = match classify(input, region) {
            Caller::Number {
                e164,
                line_type,
                region,
            } => Some((e164.expose().to_owned(), line_type, region)),
            Caller::Invalid => None,
            Caller::Withheld => Some(("withheld".to_owned(), LineType::Unknown, None)),
        };
        total += 1;
        valid += usize::from(expected.is_some());
        if actual != expected {
            let describe = |a: &Option<(String, LineType, Option<String>)>| match a {
                None => "invalid".to_owned(),
                Some((_, t, r)) => format!("{t:?} in {r:?}"),
            };
            disagreements.push(format!(
                "line {}: reference {}, Rappel {}{}",
                n + 1,
                describe(&expected),
                describe(&actual),
                if actual.is_some()
                    && expected.is_some()
                    && actual.as_ref().map(|a| &a.0) != expected.as_ref().map(|e| &e.0)
                {
                    " (different E.164)"
                } else {
                    ""
                }
            ));
        }
    }
    assert!(
        total > 8_000 && valid > 3_000,
        "corpus too small: {total} numbers, {valid} valid"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {total} numbers classified unlike the reference:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
