//! The bytes of the write-ahead log: how a committed batch becomes a record in a segment file,
//! and how a segment is read back, stopping cleanly at a torn or corrupt tail.
//!
//! A segment starts with an 8-byte magic (`DOJOWAL1`) and holds records, each one
//!
//! ```text
//! payload length (u32 LE) | CRC-32 of the payload (u32 LE) | payload
//! payload = received at (unix nanos, u64 LE) | tenant length (u8) | tenant | OTLP protobuf
//! ```
//!
//! The OTLP part is an `ExportTraceServiceRequest` of the spans as they were stored (after the
//! ingest pipeline, so masked values are masked on disk too). A record is written with one
//! `write` call; a process killed mid-write leaves at most one torn record at the end.

use std::fs::File;
use std::io::{self, BufReader, Read};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::proto;
use crate::otlp::convert::IncomingSpan;
use crate::storage::TenantId;

/// The first bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"DOJOWAL1";

/// Bytes before each payload: its length and its checksum.
const FRAME_HEADER: usize = 8;

/// No record is larger (a request body is at most 64 MiB decompressed by default); a length
/// beyond it can only be corruption.
const MAX_PAYLOAD: usize = 1 << 30;

/// One record read back.
#[derive(Debug)]
pub struct Record {
    pub tenant: TenantId,
    /// When the spans were stored, by the wall clock.
    pub received_unix_nanos: u64,
    pub request: ExportTraceServiceRequest,
}

/// Encodes a batch of stored spans as one framed record, ready to append.
pub fn encode(tenant: &TenantId, received_unix_nanos: u64, spans: &[IncomingSpan]) -> Vec<u8> {
    let tenant = tenant.as_str().as_bytes();
    // Tenant names are at most 150 bytes (`TenantId::parse`), so the length fits a u8.
    let tenant_len = u8::try_from(tenant.len()).unwrap_or(u8::MAX);
    let tenant = &tenant[..usize::from(tenant_len)];
    // About what a span takes in OTLP protobuf, so the buffer rarely grows.
    let mut frame = Vec::with_capacity(FRAME_HEADER + 9 + tenant.len() + spans.len() * 320);
    frame.extend_from_slice(&[0; FRAME_HEADER]);
    frame.extend_from_slice(&received_unix_nanos.to_le_bytes());
    frame.push(tenant_len);
    frame.extend_from_slice(tenant);
    proto::write_request(spans.iter().map(|s| (s.trace_id, &s.span)), &mut frame);
    let payload = &frame[FRAME_HEADER..];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(payload);
    frame[..4].copy_from_slice(&len.to_le_bytes());
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    frame
}

/// Why reading a segment stopped before its end, or skipped a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a record: the write of the last record was cut short. Everything
    /// from `offset` on is dropped.
    TornTail { offset: u64, bytes: u64 },
    /// A record whose checksum or content is wrong, at `offset`; with a believable length the
    /// reader skips it and goes on, otherwise it stops there.
    Corrupt { offset: u64, reason: String },
    /// The file does not start with the magic bytes: not a segment, or cut before its header.
    NotASegment,
}

/// Reads the records of one segment file in order.
pub struct SegmentReader {
    input: BufReader<File>,
    /// Bytes of the file.
    len: u64,
    /// Where the next record starts.
    offset: u64,
    /// Set once reading cannot go on.
    done: bool,
}

/// What [`SegmentReader::next_record`] found.
pub enum Next {
    Record(Record),
    /// A damaged record that was skipped; reading goes on.
    Skipped(Damage),
    /// The end: clean (`None`), or damage after which nothing more can be read.
    End(Option<Damage>),
}

impl SegmentReader {
    /// Opens a segment and checks its magic.
    pub fn open(file: File) -> io::Result<Result<SegmentReader, Damage>> {
        let len = file.metadata()?.len();
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 8];
        if len < MAGIC.len() as u64 {
            return Ok(Err(Damage::NotASegment));
        }
        input.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Ok(Err(Damage::NotASegment));
        }
        Ok(Ok(SegmentReader {
            input,
            len,
            offset: MAGIC.len() as u64,
            done: false,
        }))
    }

    /// Where the last good record ended: the length to cut a damaged file back to.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record, a skipped one, or the end.
    pub fn next_record(&mut self) -> io::Result<Next> {
        if self.done || self.offset == self.len {
            self.done = true;
            return Ok(Next::End(None));
        }
        let torn = |reader: &mut SegmentReader| {
            reader.done = true;
            Ok(Next::End(Some(Damage::TornTail {
                offset: reader.offset,
                bytes: reader.len - reader.offset,
            })))
        };
        let remaining = self.len - self.offset;
        if remaining < FRAME_HEADER as u64 {
            return torn(self);
        }
        let mut header = [0u8; FRAME_HEADER];
        self.input.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if !(9..=MAX_PAYLOAD).contains(&len) {
            self.done = true;
            return Ok(Next::End(Some(Damage::Corrupt {
                offset: self.offset,
                reason: format!("a record length of {len} bytes is impossible"),
            })));
        }
        if remaining < (FRAME_HEADER + len) as u64 {
            return torn(self);
        }
        let mut payload = vec![0u8; len];
        self.input.read_exact(&mut payload)?;
        let at = self.offset;
        self.offset += (FRAME_HEADER + len) as u64;
        if crc32fast::hash(&payload) != crc {
            return Ok(Next::Skipped(Damage::Corrupt {
                offset: at,
                reason: "its checksum does not match".into(),
            }));
        }
        match decode_payload(&payload) {
            Ok(record) => Ok(Next::Record(record)),
            Err(reason) => Ok(Next::Skipped(Damage::Corrupt { offset: at, reason })),
        }
    }
}

fn decode_payload(payload: &[u8]) -> Result<Record, String> {
    let (nanos, rest) = payload.split_at(8);
    let received_unix_nanos = u64::from_le_bytes(nanos.try_into().map_err(|_| "short record")?);
    let (&tenant_len, rest) = rest.split_first().ok_or("short record")?;
    let tenant_len = usize::from(tenant_len);
    if rest.len() < tenant_len {
        return Err("its tenant name is cut short".into());
    }
    let (tenant, otlp) = rest.split_at(tenant_len);
    let tenant = std::str::from_utf8(tenant)
        .ok()
        .and_then(|t| TenantId::parse(t).ok())
        .ok_or("its tenant name is not valid")?;
    let request = ExportTraceServiceRequest::decode(otlp)
        .map_err(|e| format!("its spans do not decode: {e}"))?;
    Ok(Record {
        tenant,
        received_unix_nanos,
        request,
    })
}
