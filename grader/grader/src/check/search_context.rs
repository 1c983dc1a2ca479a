//! What one TraceQL grading searches with (backend, tenant, variables, window, settings), and
//! the one reading of a search hit both the answer check and the contrast check share: the
//! span ids it matched, when the hit lists them all. Below both checks so neither reaches into
//! the other.

use std::collections::BTreeSet;

use dojo_traceql::model::SpanId;

use super::Settings;
use crate::backend::{SearchHit, TraceBackend, Window};
use crate::query::Vars;

/// Everything the TraceQL check needs besides the answer.
pub struct Context<'a> {
    pub backend: &'a dyn TraceBackend,
    pub tenant: Option<&'a str>,
    pub vars: Vars<'a>,
    pub window: Window,
    pub settings: &'a Settings,
}

/// The span ids of a hit, when the hit lists every matched span.
pub(crate) fn complete_span_ids(hit: &SearchHit) -> Option<BTreeSet<SpanId>> {
    let mut ids = BTreeSet::new();
    for set in &hit.spansets {
        if set.matched > set.spans.len() {
            return None;
        }
        ids.extend(set.spans.iter().map(|s| s.span_id));
    }
    Some(ids)
}
