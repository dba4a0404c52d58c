//! The README's "Retention" table says what `rappel::retention::TABLE` sets: same item types,
//! same order, same durations. (The TTLs the pipeline actually writes are checked against the
//! README by `tests/e2e/test_privacy.py::test_items_expire_when_the_readme_says`.)

use rappel::retention::{Retention, TABLE};

/// `(item, days)` rows of the README's retention table; `None` for "until erased".
fn readme_rows() -> Vec<(String, Option<i64>)> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("### Retention")
        .nth(1)
        .expect("README has a Retention section");
    let section = section.split("\n#").next().unwrap();
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let item = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let kept = *cells.get(2)?;
            let days = match kept.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["until", "erased"] => None,
                [n, unit] => {
                    let n: i64 = n.parse().ok()?;
                    Some(match unit.trim_end_matches('s') {
                        "day" => n,
                        "year" => n * 365,
                        other => panic!("README retention: unknown unit {other:?}"),
                    })
                }
                _ => panic!("README retention: cannot read {kept:?}"),
            };
            Some((item.to_string(), days))
        })
        .collect()
}

#[test]
fn the_readme_retention_table_is_the_code_s() {
    let code: Vec<(String, Option<i64>)> = TABLE
        .iter()
        .map(|Retention { item, days }| (item.to_string(), *days))
        .collect();
    assert_eq!(readme_rows(), code);
}
