//! The write-ahead log: traces that survive a restart.
//!
//! As Tempo's ingesters do, the store appends every batch it stores to a log in its data
//! directory before the OTLP request is answered, and replays the log when it starts. The log
//! is a folder of segment files (`00000000000000000001.wal`, …) written one after another:
//! a segment is closed once it is `segment_bytes` long or its first record is older than
//! `segment_max_age`, and closed segments are deleted once their newest record is past the
//! retention period, or, oldest first, while the log is larger than `max_bytes`.
//!
//! Durability: a record is written to the file (one `write` call, so it is in the operating
//! system's hands) before the request is acknowledged, which survives the process being
//! killed. With `fsync: periodic` (the default) the files are flushed to the disk twice a
//! second by the maintenance loop, so a power cut loses at most the last half-second; with
//! `fsync: always` every record is flushed before the answer.
//!
//! Replay (in [`replay`]) reads the segments in order, skips records past retention, and
//! stores the rest as they were, evicting for the tenant limits and the store-wide memory
//! budget as it goes. A torn last record (the process died mid-write) is dropped with a log
//! line and the file cut back to the last whole record; nothing before it is lost.
//!
//! Spans waiting for a tail-sampling decision are logged when they are decided and stored,
//! not when they arrive.

mod config;
pub mod proto;
pub mod record;
pub mod replay;

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::otlp::convert::IncomingSpan;
use crate::storage::TenantId;

pub use config::{FsyncPolicy, WalConfig};

/// Why the log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(
        "the write-ahead log in {path} could not be used (give a writable data directory, or keep traces in memory only: --no-wal for dojo up and dojo serve, no --data-dir for dojo store)"
    )]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl WalError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
        move |source| WalError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// One segment file and the times of the records it holds.
#[derive(Debug, Clone)]
pub struct Segment {
    pub path: PathBuf,
    pub seq: u64,
    /// Bytes in the file.
    pub bytes: u64,
    /// Wall-clock receive time of its first and newest records (0 while it has none).
    pub oldest_unix_nanos: u64,
    pub newest_unix_nanos: u64,
}

impl Segment {
    fn file_name(seq: u64) -> String {
        format!("{seq:020}.wal")
    }

    /// The sequence number of a segment file name, `None` for other files.
    pub fn seq_of(path: &Path) -> Option<u64> {
        let name = path.file_name()?.to_str()?;
        name.strip_suffix(".wal")?.parse().ok()
    }

    fn has_records(&self) -> bool {
        self.newest_unix_nanos != 0
    }
}

/// The open log: appends go to the current segment.
pub struct Wal {
    dir: PathBuf,
    config: WalConfig,
    writer: Mutex<Writer>,
}

struct Writer {
    file: File,
    current: Segment,
    /// Closed segments, oldest first.
    closed: VecDeque<Segment>,
    /// Records written since the last flush to disk.
    unsynced: bool,
}

fn lock(writer: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Wal {
    /// Starts a new segment after the `existing` ones (already replayed, oldest first).
    pub fn create(dir: &Path, config: WalConfig, existing: Vec<Segment>) -> Result<Wal, WalError> {
        let next = existing.iter().map(|s| s.seq).max().unwrap_or(0) + 1;
        let (file, current) = new_segment(dir, next).map_err(WalError::io(dir))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            config,
            writer: Mutex::new(Writer {
                file,
                current,
                closed: existing.into(),
                unsynced: false,
            }),
        })
    }

    /// The folder the segments are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one stored batch, before the request that brought it is answered.
    pub fn append(
        &self,
        tenant: &TenantId,
        received_unix_nanos: u64,
        spans: &[IncomingSpan],
    ) -> io::Result<()> {
        let frame = record::encode(tenant, received_unix_nanos, spans);
        let mut writer = lock(&self.writer);
        let writer = &mut *writer;
        if let Err(error) = writer.file.write_all(&frame) {
            // A partial write would leave a torn record in the middle of the segment: cut
            // it off, so later records stay readable.
            let _ = writer.file.set_len(writer.current.bytes);
            return Err(error);
        }
        writer.current.bytes += frame.len() as u64;
        if !writer.current.has_records() {
            writer.current.oldest_unix_nanos = received_unix_nanos;
        }
        writer.current.newest_unix_nanos =
            writer.current.newest_unix_nanos.max(received_unix_nanos);
        match self.config.fsync {
            FsyncPolicy::Always => writer.file.sync_data()?,
            FsyncPolicy::Periodic => writer.unsynced = true,
        }
        if writer.current.bytes >= self.config.segment_bytes {
            self.rotate(writer)?;
        }
        Ok(())
    }

    /// Periodic work: flushes to disk, closes a segment that is old enough, and deletes the
    /// closed segments past `retention` or beyond `max_bytes`.
    pub fn maintain(&self, now_unix_nanos: u64, retention: Duration) -> io::Result<()> {
        // The flush runs on a second handle to the file, outside the lock, so appends (and
        // the requests waiting on them) never wait for the disk.
        let to_sync = {
            let mut writer = lock(&self.writer);
            let unsynced = std::mem::replace(&mut writer.unsynced, false);
            unsynced.then(|| writer.file.try_clone()).transpose()?
        };
        if let Some(file) = to_sync
            && let Err(error) = file.sync_data()
        {
            lock(&self.writer).unsynced = true;
            return Err(error);
        }
        let mut writer = lock(&self.writer);
        let writer = &mut *writer;
        let age = |since: u64| Duration::from_nanos(now_unix_nanos.saturating_sub(since));
        if writer.current.has_records()
            && age(writer.current.oldest_unix_nanos) >= self.config.segment_max_age
        {
            self.rotate(writer)?;
        }
        let mut total: u64 =
            writer.closed.iter().map(|s| s.bytes).sum::<u64>() + writer.current.bytes;
        while let Some(oldest) = writer.closed.front() {
            let expired = age(oldest.newest_unix_nanos) > retention;
            if !expired && total <= self.config.max_bytes {
                break;
            }
            total -= oldest.bytes;
            remove_segment(&oldest.path);
            writer.closed.pop_front();
        }
        Ok(())
    }

    /// The segments on disk now, oldest first (for tests and the status line).
    pub fn segments(&self) -> Vec<Segment> {
        let writer = lock(&self.writer);
        writer
            .closed
            .iter()
            .chain(std::iter::once(&writer.current))
            .cloned()
            .collect()
    }

    fn rotate(&self, writer: &mut Writer) -> io::Result<()> {
        writer.file.sync_data()?;
        writer.unsynced = false;
        let (file, segment) = new_segment(&self.dir, writer.current.seq + 1)?;
        writer.file = file;
        let closed = std::mem::replace(&mut writer.current, segment);
        writer.closed.push_back(closed);
        Ok(())
    }
}

fn new_segment(dir: &Path, seq: u64) -> io::Result<(File, Segment)> {
    let path = dir.join(Segment::file_name(seq));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    file.write_all(record::MAGIC)?;
    // The folder entry of a new file must reach the disk too, or a power cut forgets it.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok((
        file,
        Segment {
            path,
            seq,
            bytes: record::MAGIC.len() as u64,
            oldest_unix_nanos: 0,
            newest_unix_nanos: 0,
        },
    ))
}

fn remove_segment(path: &Path) {
    if let Err(error) = std::fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "could not delete an old write-ahead log segment");
    }
}
