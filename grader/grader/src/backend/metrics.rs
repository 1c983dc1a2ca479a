//! A metrics answer as points keyed by time, for comparing two queries over the same request
//! (the dashboard check): each series' labels as sorted `(key, value text)` pairs and its
//! points as `(interval end in unix milliseconds, value)`, the right edge of the interval as
//! Tempo stamps its samples. Intervals without a value are left out.

use dojo_traceql::model::Value;

use super::MetricsAnswer;

/// One series of a metrics answer, as points.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    /// `(key, value)` with the value printed as text (`nil` when the group had none), sorted.
    pub labels: Vec<(String, String)>,
    /// `(interval end in unix milliseconds, value)`, in time order.
    pub points: Vec<(u64, f64)>,
}

/// Every series of `answer` as points.
pub fn series_points(answer: &MetricsAnswer) -> Vec<SeriesPoints> {
    let step = answer.step_nanos.max(1);
    answer
        .series
        .iter()
        .map(|series| {
            let mut labels: Vec<(String, String)> = series
                .labels
                .iter()
                .map(|(key, value)| {
                    let text = match value {
                        Some(Value::Str(text)) => text.to_string(),
                        Some(other) => other.to_string(),
                        None => "nil".to_string(),
                    };
                    (key.clone(), text)
                })
                .collect();
            labels.sort();
            let points = series
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(i, v)| {
                    let end = answer.start_nanos + (i as u64 + 1) * step;
                    (end / 1_000_000, *v)
                })
                .collect();
            SeriesPoints { labels, points }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MetricsSeries;

    #[test]
    fn points_are_stamped_with_their_intervals_right_edge_and_gaps_are_left_out() {
        let answer = MetricsAnswer {
            start_nanos: 60_000_000_000,
            step_nanos: 30_000_000_000,
            series: vec![MetricsSeries {
                labels: vec![
                    ("resource.service.name".into(), Some(Value::str("api"))),
                    ("p".into(), Some(Value::Float(0.95))),
                    ("span.db".into(), None),
                ],
                values: vec![1.5, f64::NAN, 0.0],
            }],
        };
        let series = series_points(&answer);
        assert_eq!(
            series,
            vec![SeriesPoints {
                labels: vec![
                    ("p".into(), "0.95".into()),
                    ("resource.service.name".into(), "api".into()),
                    ("span.db".into(), "nil".into()),
                ],
                points: vec![(90_000, 1.5), (150_000, 0.0)],
            }]
        );
    }
}
