//! The log book as the course's log source: the lines a trace's spans wrote, for the waterfall.

use dojo_course::backend::{LogEntry, LogSource};
use dojo_traceql::model::{SpanId, TraceId};

use crate::logbook::LogBook;

impl LogSource for LogBook {
    fn logs_for_trace(&self, trace_id: TraceId) -> Vec<LogEntry> {
        self.for_trace(&trace_id.to_string())
            .iter()
            .map(|line| LogEntry {
                service: line.service.clone(),
                span_id: line
                    .span_id
                    .as_deref()
                    .and_then(|id| SpanId::from_hex(id).ok()),
                level: line.level.clone(),
                message: line.message.clone(),
                timestamp: line.timestamp.clone(),
            })
            .collect()
    }
}
