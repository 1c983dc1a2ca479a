//! The write-ahead log: what a store replays when it starts again on the same folder, and
//! how the log's segments are closed and deleted. (Killing a real process mid-ingest is the
//! e2e test `wal::spans_acknowledged_before_kill_9_of_dojo_store_…`.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use dojo_store::otlp::convert::{convert_request, now_unix_nanos};
use dojo_store::storage::wal::{Wal, record};
use dojo_store::{Budget, FsyncPolicy, Store, StoreConfig, TenantId, WalConfig};

use crate::helpers::{SpanSpec, TestStore, minutes_ago, request, trace_hex};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// A fresh folder for one test's log.
fn wal_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dojo-store-wal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A store that logs to `dir`, after replaying what is there.
fn store_on(dir: &Path, config: StoreConfig) -> (Store, dojo_store::ReplayReport) {
    let store = Store::new(config.clone()).expect("the configuration compiles");
    let report = store
        .attach_wal(dir, config.wal)
        .expect("the log folder is usable");
    (store, report)
}

/// Trace `n`: three spans of the checkout service, with a long attribute to give it weight.
fn trace(n: u8) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    let start = minutes_ago(1);
    let padding = "x".repeat(2000);
    let spans: Vec<SpanSpec> = (1..=3)
        .map(|i| {
            SpanSpec::new(
                n,
                i,
                (i > 1).then_some(1),
                "checkout",
                SpanKind::Server,
                start,
                5,
            )
            .attr(crate::helpers::string_attr("padding", &padding))
        })
        .collect();
    request("checkout", &spans)
}

fn stored_traces(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .snapshot(&TenantId::default_tenant())
        .iter()
        .map(|t| t.trace_id.to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_store_started_again_on_its_folder_has_every_trace_it_had_stored() {
    let dir = wal_dir("restart");
    let config = StoreConfig {
        wal: WalConfig {
            fsync: FsyncPolicy::Always,
            ..WalConfig::default()
        },
        ..StoreConfig::default()
    };
    let (first, _) = store_on(&dir, config.clone());
    let app = TestStore::with_store(first.clone()).await;
    for n in 1..=5 {
        let response = app.post_protobuf(&trace(n), Some("team-a")).await;
        assert_eq!(response.status(), 200);
    }
    let before: Vec<_> = first.status();
    drop(app);
    drop(first);

    let (second, report) = store_on(&dir, config);
    assert_eq!(report.spans, 15, "{report}");
    assert!(report.damage.is_empty(), "{report}");
    let again = TestStore::with_store(second.clone()).await;
    for n in 1..=5 {
        let (status, body) = again
            .get(&format!("/api/traces/{}", trace_hex(n)), Some("team-a"))
            .await;
        assert_eq!(status, 200, "trace {n} after the restart: {body}");
        assert_eq!(body.matches("\"spanId\"").count(), 3, "{body}");
    }
    let after = second.status();
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].traces, after[0].spans, after[0].bytes),
        (before[0].traces, before[0].spans, before[0].bytes),
        "the same traces, spans and estimated bytes come back"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_past_retention_are_not_replayed() {
    let dir = wal_dir("retention");
    std::fs::create_dir_all(&dir).unwrap();
    let wal = Wal::create(&dir, WalConfig::default(), Vec::new()).unwrap();
    let tenant = TenantId::default_tenant();
    let two_hours_ago = now_unix_nanos() - 2 * 3600 * 1_000_000_000;
    wal.append(&tenant, two_hours_ago, &convert_request(trace(1)).spans)
        .unwrap();
    wal.append(&tenant, now_unix_nanos(), &convert_request(trace(2)).spans)
        .unwrap();
    drop(wal);

    let mut config = StoreConfig::default();
    config.limits.retention = Duration::from_secs(3600);
    let (store, report) = store_on(&dir, config);
    assert_eq!(report.expired_records, 1, "{report}");
    assert_eq!(stored_traces(&store), [trace_hex(2)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn replay_keeps_to_the_memory_budget_and_keeps_the_newest() {
    let dir = wal_dir("budget");
    let (first, _) = store_on(&dir, StoreConfig::default());
    for n in 1..=40 {
        first
            .ingest(&TenantId::default_tenant(), trace(n))
            .expect("stored");
    }
    let whole = first.bytes_total();
    drop(first);

    let budget = whole / 4;
    let small = StoreConfig {
        budget: Budget {
            max_bytes_total: budget,
            ..Budget::default()
        },
        ..StoreConfig::default()
    };
    let (store, report) = store_on(&dir, small);
    assert_eq!(report.spans, 120, "every record is read: {report}");
    assert!(
        store.bytes_total() <= budget,
        "replay holds {} estimated bytes, over the budget of {budget}",
        store.bytes_total()
    );
    let kept = stored_traces(&store);
    assert!(
        (5..=12).contains(&kept.len()),
        "about a quarter of the traces: {kept:?}"
    );
    assert!(
        kept.contains(&trace_hex(40)),
        "the newest trace is kept: {kept:?}"
    );
    assert!(
        !kept.contains(&trace_hex(1)),
        "the oldest trace goes first: {kept:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_record_is_dropped_and_said_and_the_records_after_it_are_kept() {
    let dir = wal_dir("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let wal = Wal::create(&dir, WalConfig::default(), Vec::new()).unwrap();
    let tenant = TenantId::default_tenant();
    let mut ends = Vec::new();
    for n in 1..=3 {
        wal.append(&tenant, now_unix_nanos(), &convert_request(trace(n)).spans)
            .unwrap();
        ends.push(wal.segments().last().unwrap().bytes);
    }
    let path = wal.segments().last().unwrap().path.clone();
    drop(wal);
    // One bit flipped inside the second record's spans.
    let mut bytes = std::fs::read(&path).unwrap();
    let inside_second = (ends[0] + (ends[1] - ends[0]) / 2) as usize;
    bytes[inside_second] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();

    let (store, report) = store_on(&dir, StoreConfig::default());
    assert_eq!(report.damage.len(), 1, "{report}");
    assert!(
        report.damage[0].contains("checksum"),
        "the damage is named: {report}"
    );
    assert_eq!(stored_traces(&store), [trace_hex(1), trace_hex(3)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn segments_are_closed_when_full_and_deleted_past_retention_or_the_size_cap() {
    let dir = wal_dir("segments");
    std::fs::create_dir_all(&dir).unwrap();
    let config = WalConfig {
        segment_bytes: 16 << 10,
        max_bytes: 64 << 10,
        ..WalConfig::default()
    };
    let wal = Wal::create(&dir, config, Vec::new()).unwrap();
    let tenant = TenantId::default_tenant();
    let now = now_unix_nanos();
    // Each record is about 6 kB: three fill a segment.
    for n in 1..=30 {
        wal.append(&tenant, now, &record_spans(n)).unwrap();
    }
    let files = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
    assert!(
        wal.segments().len() >= 9,
        "full segments are closed: {:?}",
        wal.segments()
    );
    assert_eq!(files(&dir), wal.segments().len());

    let hour = Duration::from_secs(3600);
    wal.maintain(now, hour).unwrap();
    let on_disk: u64 = wal.segments().iter().map(|s| s.bytes).sum();
    assert!(
        on_disk <= 64 << 10,
        "the oldest segments go beyond max_bytes: {on_disk} bytes left"
    );
    assert_eq!(files(&dir), wal.segments().len(), "deleted from disk too");

    // Two hours later everything is past retention: the current segment, older than
    // segment_max_age, is closed, and every closed one deleted.
    wal.maintain(now + 2 * 3600 * 1_000_000_000, hour).unwrap();
    let left = wal.segments();
    assert_eq!(left.len(), 1, "only a fresh, empty segment: {left:?}");
    assert_eq!(left[0].newest_unix_nanos, 0);
    assert_eq!(files(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

fn record_spans(n: u8) -> Vec<dojo_store::otlp::convert::IncomingSpan> {
    let spans = convert_request(trace(n)).spans;
    assert!(record::encode(&TenantId::default_tenant(), 0, &spans).len() > 5000);
    spans
}
