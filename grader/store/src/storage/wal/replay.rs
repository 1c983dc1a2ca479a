//! Replaying the write-ahead log into a store when it starts.
//!
//! Segments are read oldest first. A record older than the retention period is skipped; the
//! others are stored as they were received (their age kept, so retention and eviction order
//! go on as before the restart), bypassing the pipeline (the spans went through it already)
//! and the generated metrics (which count spans as they arrive). The tenant limits and the
//! store-wide memory budget are enforced after every record, so replay never holds more than
//! the budget plus one record.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant as StdInstant};

use tokio::time::Instant;

use super::record::{Damage, Next, Record, SegmentReader};
use super::{Segment, Wal, WalConfig, WalError};
use crate::otlp::convert::{convert_request_with, now_unix_nanos};
use crate::storage::tenant::Counters;
use crate::storage::{Store, write};

/// What a replay found, for the start-up log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Segment files read.
    pub segments: usize,
    /// Records stored again, and their spans.
    pub records: usize,
    pub spans: usize,
    /// Records skipped because they are past the retention period.
    pub expired_records: usize,
    /// Records skipped because their tenant would go beyond `budget.max_tenants`.
    pub refused_records: usize,
    /// Damage found and dropped, in words (one line each; also logged).
    pub damage: Vec<String>,
    /// How long reading and storing took.
    pub elapsed: Duration,
}

impl std::fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "replayed {} spans from {} write-ahead log segment(s) in {:.2} s",
            self.spans,
            self.segments,
            self.elapsed.as_secs_f64()
        )?;
        if self.expired_records > 0 {
            write!(
                f,
                "; {} record(s) past retention were skipped",
                self.expired_records
            )?;
        }
        if self.refused_records > 0 {
            write!(
                f,
                "; {} record(s) of tenants beyond budget.max_tenants were skipped",
                self.refused_records
            )?;
        }
        if !self.damage.is_empty() {
            write!(f, "; damage dropped: {}", self.damage.join("; "))?;
        }
        Ok(())
    }
}

impl Store {
    /// Replays the log in `dir` (created if missing) into this store, then keeps logging every
    /// batch stored from now on there. Call once, before the store receives anything.
    pub fn attach_wal(&self, dir: &Path, config: WalConfig) -> Result<ReplayReport, WalError> {
        let started = StdInstant::now();
        std::fs::create_dir_all(dir).map_err(WalError::io(dir))?;
        let mut report = ReplayReport::default();
        let mut kept = Vec::new();
        for path in segment_paths(dir).map_err(WalError::io(dir))? {
            if let Some(segment) = self
                .replay_segment(&path, &mut report)
                .map_err(WalError::io(&path))?
            {
                kept.push(segment);
            }
        }
        let wal = Wal::create(dir, config, kept)?;
        // `attach_wal` is called once; a second call keeps the first log.
        let _ = self.shared.wal.set(wal);
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Stores the records of one segment; returns it if it still holds any, deleting it if not.
    fn replay_segment(
        &self,
        path: &Path,
        report: &mut ReplayReport,
    ) -> std::io::Result<Option<Segment>> {
        let Some(seq) = Segment::seq_of(path) else {
            return Ok(None);
        };
        report.segments += 1;
        let mut reader = match SegmentReader::open(File::open(path)?)? {
            Ok(reader) => reader,
            Err(damage) => {
                // Cut before its header was written (or not ours): nothing in it to keep.
                note(report, path, &damage);
                let aside = path.with_extension("damaged");
                std::fs::rename(path, &aside)?;
                return Ok(None);
            }
        };
        let mut segment = Segment {
            path: path.to_path_buf(),
            seq,
            bytes: 0,
            oldest_unix_nanos: 0,
            newest_unix_nanos: 0,
        };
        let now_nanos = now_unix_nanos();
        let retention = self.shared.config.limits.retention;
        loop {
            match reader.next_record()? {
                Next::Record(record) => {
                    let at = record.received_unix_nanos;
                    if segment.oldest_unix_nanos == 0 {
                        segment.oldest_unix_nanos = at;
                    }
                    segment.newest_unix_nanos = segment.newest_unix_nanos.max(at);
                    let age = Duration::from_nanos(now_nanos.saturating_sub(at));
                    if age > retention {
                        report.expired_records += 1;
                    } else {
                        self.restore(record, age, report);
                    }
                }
                Next::Skipped(damage) => note(report, path, &damage),
                Next::End(damage) => {
                    if let Some(damage) = damage {
                        note(report, path, &damage);
                        // Cut the torn tail off, so it is reported once and appends never
                        // follow it.
                        OpenOptions::new()
                            .write(true)
                            .open(path)?
                            .set_len(reader.offset())?;
                    }
                    break;
                }
            }
        }
        segment.bytes = reader.offset();
        if segment.newest_unix_nanos == 0 {
            std::fs::remove_file(path)?;
            return Ok(None);
        }
        Ok(Some(segment))
    }

    /// Stores one record's spans as received `age` ago.
    fn restore(&self, record: Record, age: Duration, report: &mut ReplayReport) {
        let Ok(tenant) = self.tenant(&record.tenant) else {
            report.refused_records += 1;
            return;
        };
        let config = &self.shared.config;
        let batch = convert_request_with(record.request, &config.span_limits, now_unix_nanos());
        let now = Instant::now();
        let received_at = now.checked_sub(age).unwrap_or(now);
        report.records += 1;
        report.spans += batch.spans.len();
        Counters::add(&tenant.counters.stored_spans, batch.spans.len());
        let (added, evicted) = {
            let mut state = write(&tenant.state);
            let added = state.insert(batch.spans, received_at);
            (added, state.evict(&config.limits, now))
        };
        self.shared.bytes_total.fetch_add(added, Ordering::AcqRel);
        self.count_evicted(&tenant, evicted);
        self.enforce_budget();
    }
}

/// The segment files in `dir`, oldest first.
fn segment_paths(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter_map(|path| Segment::seq_of(&path).map(|seq| (seq, path)))
        .collect();
    paths.sort();
    Ok(paths.into_iter().map(|(_, path)| path).collect())
}

/// Logs damage found in a segment and keeps it for the report.
fn note(report: &mut ReplayReport, path: &Path, damage: &Damage) {
    let line = match damage {
        Damage::TornTail { offset, bytes } => format!(
            "{}: the last record was cut short (the process stopped while writing it); its {bytes} byte(s) from offset {offset} were dropped",
            path.display()
        ),
        Damage::Corrupt { offset, reason } => format!(
            "{}: the record at offset {offset} was dropped because {reason}",
            path.display()
        ),
        Damage::NotASegment => format!(
            "{}: not a write-ahead log segment (no header); set aside as .damaged",
            path.display()
        ),
    };
    tracing::warn!("{line}");
    report.damage.push(line);
}
