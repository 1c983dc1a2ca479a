//! A fixed-bucket latency histogram with one exemplar per bucket.

use dojo_traceql::model::TraceId;

/// A trace that landed in a bucket: the link from a metric to a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    pub trace_id: TraceId,
    /// The observed value (seconds).
    pub value: f64,
    /// When the span ended, in milliseconds since the epoch.
    pub timestamp_ms: u64,
}

/// Cumulative counts are computed when printed; each slot counts its own bucket only.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// One count per configured bound, plus one for `+Inf`.
    counts: Vec<u64>,
    exemplars: Vec<Option<Exemplar>>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: usize) -> Self {
        Histogram {
            counts: vec![0; bounds + 1],
            exemplars: vec![None; bounds + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one value against the given bounds (the same bounds every time).
    pub fn observe(&mut self, bounds: &[f64], value: f64, exemplar: Exemplar) {
        let slot = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        if let (Some(count), Some(ex)) = (self.counts.get_mut(slot), self.exemplars.get_mut(slot)) {
            *count += 1;
            *ex = Some(exemplar);
        }
        self.sum += value;
        self.count += 1;
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// `(upper bound, cumulative count, exemplar)` per bucket, ending with `+Inf`.
    pub fn cumulative<'a>(
        &'a self,
        bounds: &'a [f64],
    ) -> impl Iterator<Item = (f64, u64, Option<Exemplar>)> + 'a {
        let mut running = 0;
        self.counts.iter().enumerate().map(move |(i, count)| {
            running += count;
            let bound = bounds.get(i).copied().unwrap_or(f64::INFINITY);
            (bound, running, self.exemplars[i])
        })
    }

    /// The q-quantile estimated by linear interpolation inside the bucket (as Prometheus does).
    pub fn quantile(&self, bounds: &[f64], q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.count as f64;
        let mut below = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            if *count > 0 && (below + count) as f64 >= rank {
                let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
                let Some(upper) = bounds.get(i).copied() else {
                    return Some(lower);
                };
                let within = (rank - below as f64) / *count as f64;
                return Some(lower + (upper - lower) * within);
            }
            below += count;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: [f64; 3] = [0.1, 0.2, 0.4];

    fn ex(v: f64) -> Exemplar {
        Exemplar {
            trace_id: TraceId([1; 16]),
            value: v,
            timestamp_ms: 0,
        }
    }

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_holds_them() {
        let mut h = Histogram::new(3);
        for v in [0.05, 0.1, 0.15, 1.0] {
            h.observe(&BOUNDS, v, ex(v));
        }
        let cumulative: Vec<_> = h.cumulative(&BOUNDS).map(|(b, c, _)| (b, c)).collect();
        assert_eq!(
            cumulative,
            vec![(0.1, 2), (0.2, 3), (0.4, 3), (f64::INFINITY, 4)]
        );
        assert_eq!(h.count(), 4);
        assert!((h.sum() - 1.3).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate_inside_a_bucket() {
        let mut h = Histogram::new(3);
        for _ in 0..10 {
            h.observe(&BOUNDS, 0.15, ex(0.15));
        }
        let median = h.quantile(&BOUNDS, 0.5).unwrap();
        assert!((median - 0.15).abs() < 1e-9, "{median}");
        assert_eq!(Histogram::new(3).quantile(&BOUNDS, 0.5), None);
    }
}
