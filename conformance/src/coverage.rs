//! The coverage table: every upstream `[Conformance]` test name mapped to its status here.
//!
//! `coverage.tsv` (tracked next to `Cargo.toml`) is the source of truth; `upstream-conformance-tests.txt`
//! is the upstream name list it must line up with. Unit tests keep both files and the registered
//! tests consistent, so the counts printed by `--coverage` cannot drift from what the runner runs.

use std::collections::BTreeMap;

/// The tracked coverage table, `name<TAB>status<TAB>note` per line.
pub const COVERAGE_TSV: &str = include_str!("../coverage.tsv");

/// The upstream `[Conformance]` test names, one per line.
pub const UPSTREAM_NAMES: &str = include_str!("../upstream-conformance-tests.txt");

/// Where an upstream test stands here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// A test with exactly this name is registered in the runner.
    Ported,
    /// Not yet ported; the note says which missing feature blocks it.
    NotYet,
    /// Will not be ported; the note says why.
    NotApplicable,
}

impl Status {
    /// The spelling used in `coverage.tsv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ported => "ported",
            Status::NotYet => "not-yet",
            Status::NotApplicable => "not-applicable",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        [Status::Ported, Status::NotYet, Status::NotApplicable].into_iter().find(|s| s.as_str() == text)
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Upstream test name.
    pub name: String,
    /// Its status here.
    pub status: Status,
    /// Missing feature or reason; may be empty for ported tests.
    pub note: String,
}

/// A malformed coverage table line.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    /// The line does not have a name and a status separated by tabs.
    #[error("coverage.tsv line {line}: expected name<TAB>status<TAB>note")]
    MissingColumns {
        /// 1-based line number.
        line: usize,
    },
    /// The status column holds an unknown word.
    #[error("coverage.tsv line {line}: unknown status {status:?}")]
    UnknownStatus {
        /// 1-based line number.
        line: usize,
        /// What was found.
        status: String,
    },
}

/// Parses a coverage table (blank lines ignored).
pub fn parse(text: &str) -> Result<Vec<Entry>, CoverageError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let mut columns = line.splitn(3, '\t');
            let (Some(name), Some(status)) = (columns.next(), columns.next()) else {
                return Err(CoverageError::MissingColumns { line: index + 1 });
            };
            let status = Status::parse(status)
                .ok_or_else(|| CoverageError::UnknownStatus { line: index + 1, status: status.to_string() })?;
            Ok(Entry { name: name.to_string(), status, note: columns.next().unwrap_or_default().to_string() })
        })
        .collect()
}

/// How many entries have each status.
pub fn counts(entries: &[Entry]) -> BTreeMap<Status, usize> {
    let mut counts = BTreeMap::new();
    for entry in entries {
        *counts.entry(entry.status).or_insert(0) += 1;
    }
    counts
}

/// The `--coverage` report: one line per status, then the total.
pub fn report(entries: &[Entry]) -> String {
    let counts = counts(entries);
    let mut text = String::new();
    for status in [Status::Ported, Status::NotYet, Status::NotApplicable] {
        text.push_str(&format!("{:<15} {}\n", status.as_str(), counts.get(&status).copied().unwrap_or(0)));
    }
    text.push_str(&format!("{:<15} {}", "total", entries.len()));
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn parses_rows_and_rejects_bad_ones() {
        let entries = parse("a\tported\t\nb\tnot-yet\tneeds kubelet (issue 3)\n\n").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].status, Status::NotYet);
        assert_eq!(entries[1].note, "needs kubelet (issue 3)");
        assert!(matches!(parse("a\tdone\t"), Err(CoverageError::UnknownStatus { line: 1, .. })));
        assert!(matches!(parse("x\ny"), Err(CoverageError::MissingColumns { line: 1 })));
        assert!(report(&entries).ends_with("total           2"));
    }

    #[test]
    fn coverage_names_equal_the_upstream_list() {
        let entries = parse(COVERAGE_TSV).unwrap();
        let covered: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let upstream: Vec<&str> = UPSTREAM_NAMES.lines().filter(|l| !l.trim().is_empty()).collect();
        let covered_set: BTreeSet<&str> = covered.iter().copied().collect();
        let upstream_set: BTreeSet<&str> = upstream.iter().copied().collect();
        assert_eq!(covered.len(), covered_set.len(), "duplicate names in coverage.tsv");
        assert_eq!(
            covered_set.symmetric_difference(&upstream_set).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "coverage.tsv and the upstream list differ"
        );
    }

    #[test]
    fn ported_entries_are_exactly_the_registered_tests() {
        let entries = parse(COVERAGE_TSV).unwrap();
        let ported: BTreeSet<&str> =
            entries.iter().filter(|e| e.status == Status::Ported).map(|e| e.name.as_str()).collect();
        let registered: BTreeSet<&str> = crate::suite::all().iter().map(|t| t.name).collect();
        assert_eq!(registered.len(), crate::suite::all().len(), "a test name is registered twice");
        assert_eq!(ported, registered, "ported entries and registered tests differ");
    }

    #[test]
    fn unported_entries_say_why() {
        let entries = parse(COVERAGE_TSV).unwrap();
        let silent: Vec<&str> = entries
            .iter()
            .filter(|e| e.status != Status::Ported && e.note.trim().is_empty())
            .map(|e| e.name.as_str())
            .collect();
        assert!(silent.is_empty(), "entries without a reason: {silent:?}");
    }
}
