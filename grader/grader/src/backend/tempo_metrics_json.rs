//! Tempo's `/api/metrics/query_range` answer (`QueryRangeResponse` JSON) read into
//! [`MetricsSeries`]: labels as text, samples by their timestamp, zeros that Tempo leaves out
//! put back.

use super::BackendError;
use super::metrics::MetricsSeries;

/// Tempo's `QueryRangeResponse` JSON as series. A sample without `value` is 0 (Tempo leaves
/// zeros out).
pub fn series_from_tempo_json(body: &[u8]) -> Result<Vec<MetricsSeries>, BackendError> {
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| BackendError::Protocol(format!("a metrics answer that is not JSON: {e}")))?;
    let mut out = Vec::new();
    for series in json["series"].as_array().into_iter().flatten() {
        let mut labels: Vec<(String, String)> = series["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|label| {
                let key = label["key"].as_str()?.to_string();
                let value = label["value"]
                    .as_object()
                    .and_then(|v| v.values().next())
                    .map_or_else(
                        || "nil".to_string(),
                        |v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                    );
                Some((key, value))
            })
            .filter(|(key, _)| key != "__name__")
            .collect();
        labels.sort();
        let mut points: Vec<(u64, f64)> = series["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sample| {
                let at = match &sample["timestampMs"] {
                    serde_json::Value::String(s) => s.parse().ok()?,
                    other => other.as_u64()?,
                };
                Some((at, sample["value"].as_f64().unwrap_or(0.0)))
            })
            .collect();
        points.sort_by_key(|(at, _)| *at);
        out.push(MetricsSeries { labels, points });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempo_series_are_read_with_their_labels_and_zero_samples() {
        let body = br#"{"series":[{"labels":[{"key":"resource.service.name","value":{"stringValue":"api"}}],
            "samples":[{"timestampMs":"2000","value":1.5},{"timestampMs":"1000"}]},
            {"labels":[{"key":"span.http.status_code","value":{"intValue":"200"}},{"key":"__name__","value":{"stringValue":"rate"}}]}],
            "metrics":{}}"#;
        let series = series_from_tempo_json(body).expect("parses");
        assert_eq!(
            series[0],
            MetricsSeries {
                labels: vec![("resource.service.name".into(), "api".into())],
                points: vec![(1000, 0.0), (2000, 1.5)],
            }
        );
        assert_eq!(
            series[1].labels,
            vec![("span.http.status_code".into(), "200".into())]
        );
        assert!(series_from_tempo_json(b"nope").is_err());
    }
}
