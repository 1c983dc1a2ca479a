//! The metric and label names a PromQL expression refers to, enough to check Grafana's queries
//! against the metrics the collectors really produce: a misspelt name is an empty panel, never an
//! error, so nothing else would notice.

/// The metrics (identifiers starting with `traces_`) and the label names used in `{…}` matchers
/// and `by (…)` / `without (…)` clauses of `expr`. Grafana's `$__tags` placeholders are skipped.
pub fn references(expr: &str) -> (Vec<String>, Vec<String>) {
    let mut metrics = Vec::new();
    let mut labels = Vec::new();
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '}')
                .map_or(chars.len(), |p| i + p);
            let inside: String = chars[i + 1..end].iter().collect();
            for matcher in inside.split(',') {
                let name: String = matcher.trim().chars().take_while(|&c| is_name(c)).collect();
                if !name.is_empty() {
                    labels.push(name);
                }
            }
            i = end + 1;
        } else if c == '"' {
            // Skip string literals: their content is a value, not a name.
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '"')
                .map_or(chars.len(), |p| i + 1 + p);
            i = end + 1;
        } else if is_name(c) && (i == 0 || !is_name(chars[i - 1])) {
            let word: String = chars[i..].iter().take_while(|&&c| is_name(c)).collect();
            i += word.len();
            if word.starts_with("traces_") {
                metrics.push(word);
            } else if word == "by" || word == "without" {
                let rest: String = chars[i..].iter().collect();
                let rest = rest.trim_start();
                if let Some(list) = rest.strip_prefix('(')
                    && let Some(close) = list.find(')')
                {
                    labels.extend(
                        list[..close]
                            .split(',')
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned),
                    );
                }
            }
        } else {
            i += 1;
        }
    }
    (metrics, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_labels_are_found_and_values_and_placeholders_skipped() {
        let (metrics, labels) = references(
            r#"histogram_quantile(0.95, sum by (le, service_name) (rate(traces_spanmetrics_duration_seconds_bucket{span_kind="SPAN_KIND_SERVER", $__tags}[5m])))"#,
        );
        assert_eq!(metrics, ["traces_spanmetrics_duration_seconds_bucket"]);
        assert_eq!(labels, ["le", "service_name", "span_kind"]);
    }
}
