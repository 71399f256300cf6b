//! JUnit XML output, the format CI systems (and the upstream e2e tooling) read test results from.

use std::fmt::Write as _;

use crate::runner::{Outcome, TestResult};

/// Renders results as a single JUnit `<testsuite>`.
pub fn render(suite_name: &str, results: &[TestResult]) -> String {
    let failures = results.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).count();
    let skipped = results.iter().filter(|r| matches!(r.outcome, Outcome::Skipped(_))).count();
    let total_seconds: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total_seconds:.3}\">",
        escape(suite_name),
        results.len()
    );
    for result in results {
        let _ = write!(
            xml,
            "  <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            escape(&result.name),
            escape(suite_name),
            result.duration.as_secs_f64()
        );
        match &result.outcome {
            Outcome::Passed => xml.push_str("/>\n"),
            Outcome::Failed(message) => {
                let _ = writeln!(
                    xml,
                    ">\n    <failure message=\"{}\" type=\"Failure\">{}</failure>\n  </testcase>",
                    escape(first_line(message)),
                    escape(message)
                );
            }
            Outcome::Skipped(reason) => {
                let _ = writeln!(xml, ">\n    <skipped message=\"{}\"/>\n  </testcase>", escape(reason));
            }
        }
    }
    xml.push_str("</testsuite>\n");
    xml
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Escapes text for use in XML attributes and character data.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn counts_and_escapes_results() {
        let results = vec![
            TestResult { name: "[sig-x] a <b> [Conformance]".into(), outcome: Outcome::Passed, duration: Duration::from_millis(1500) },
            TestResult { name: "c".into(), outcome: Outcome::Failed("bad \"thing\"\nline 2".into()), duration: Duration::ZERO },
            TestResult { name: "d".into(), outcome: Outcome::Skipped("no kubectl".into()), duration: Duration::ZERO },
        ];
        let xml = render("suite", &results);
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{xml}");
        assert!(xml.contains("name=\"[sig-x] a &lt;b&gt; [Conformance]\""), "{xml}");
        assert!(xml.contains("time=\"1.500\""), "{xml}");
        assert!(xml.contains("<failure message=\"bad &quot;thing&quot;\" type=\"Failure\">bad &quot;thing&quot;\nline 2</failure>"), "{xml}");
        assert!(xml.contains("<skipped message=\"no kubectl\"/>"), "{xml}");
    }
}
