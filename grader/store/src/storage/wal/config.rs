//! The `wal:` section of the store configuration: whether and when the write-ahead log reaches
//! the disk, and how much of it is kept. Its own file so the configuration reads it without
//! reaching into the log itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When records reach the disk itself (not only the operating system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// Flushed by the maintenance loop, twice a second: a killed process loses nothing
    /// acknowledged, a power cut at most the last half-second.
    #[default]
    Periodic,
    /// Flushed before every answer: nothing acknowledged is lost even to a power cut, at the
    /// cost of a disk flush per request.
    Always,
}

/// How the write-ahead log is written and how much of it is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// When records are flushed to the disk.
    pub fsync: FsyncPolicy,
    /// A segment is closed and a new one begun once it is this long.
    pub segment_bytes: u64,
    /// A segment is also closed once its first record is this old, so a quiet log ages out.
    #[serde(with = "crate::duration::serde_go")]
    pub segment_max_age: Duration,
    /// The log's size on disk; beyond it the oldest closed segments are deleted (their spans
    /// would mostly be evicted by the memory budget at replay anyway).
    pub max_bytes: u64,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            fsync: FsyncPolicy::Periodic,
            segment_bytes: 64 << 20,
            segment_max_age: Duration::from_secs(10 * 60),
            max_bytes: 2 << 30,
        }
    }
}

impl WalConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_bytes == 0 || self.max_bytes == 0 || self.segment_max_age.is_zero() {
            return Err(
                "wal.segment_bytes, wal.segment_max_age and wal.max_bytes must be positive".into(),
            );
        }
        if self.max_bytes < self.segment_bytes {
            return Err("wal.max_bytes must be at least wal.segment_bytes".into());
        }
        Ok(())
    }
}
