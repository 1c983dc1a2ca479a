//! Routing by learner in a workshop: spans sent without a tenant header go to the tenant of
//! the learner their trace belongs to (`learner.id` on a span or its resource), including the
//! spans of that trace that arrived before the mark did; unmarked traffic stays shared, and
//! a tenant header is never overridden.

use dojo_store::Store;
use dojo_store::StoreConfig;
use dojo_store::storage::routing::learner_tenant;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::helpers::{SpanSpec, TestStore, minutes_ago, request, string_attr, trace_hex};

/// Trace ids a tenant answers for `{}` through the Tempo API.
async fn traces_of(app: &TestStore, tenant: Option<&str>) -> Vec<String> {
    let json = app.get_json("/api/search?q=%7B%7D&limit=100", tenant).await;
    let mut ids: Vec<String> = json["traces"]
        .as_array()
        .map(|traces| {
            traces
                .iter()
                .filter_map(|t| t["traceID"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn hex(n: u8) -> String {
    trace_hex(n).trim_start_matches('0').to_owned()
}

#[tokio::test]
async fn each_learners_traces_land_in_their_own_tenant_whole_and_nobody_elses() {
    let store = Store::new(StoreConfig::default()).unwrap();
    store.route_by_learner();
    let app = TestStore::with_store(store).await;
    let start = minutes_ago(2);
    let ada = learner_tenant("ada-1").unwrap();
    let bo = learner_tenant("bo-2").unwrap();

    // Ada's request 1: the api's database span is exported before its server span.
    let db = SpanSpec::new(1, 4, Some(3), "SELECT shop", SpanKind::Client, start, 5)
        .attr(string_attr("db.statement", "SELECT * FROM shop"));
    app.post_protobuf(&request("api", &[db]), None).await;
    let server = SpanSpec::new(1, 3, None, "POST /orders", SpanKind::Server, start, 20)
        .attr(string_attr("learner.id", "ada-1"));
    // Bo's request 2 in the same batch; request 3 carries no learner (the shared load).
    let bo_server = SpanSpec::new(2, 3, None, "GET /cart", SpanKind::Server, start, 9)
        .attr(string_attr("learner.id", "bo-2"));
    let nobody = SpanSpec::new(3, 3, None, "GET /cart", SpanKind::Server, start, 9);
    let response = app
        .post_protobuf(&request("api", &[server, bo_server, nobody]), None)
        .await;
    assert_eq!(response.status(), 200);
    // A late, unmarked span of Ada's request follows it.
    let late = SpanSpec::new(1, 5, Some(3), "POST payments", SpanKind::Client, start, 3)
        .attr(string_attr("db.statement", "SELECT * FROM shop"));
    app.post_protobuf(&request("api", &[late]), None).await;
    // A learner's own service marks its resource (`dojo run --learner`), not its spans.
    let mut own = request(
        "stock",
        &[SpanSpec::new(
            4,
            1,
            None,
            "GET /stock",
            SpanKind::Server,
            start,
            2,
        )],
    );
    own.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(string_attr("learner.id", "bo-2"));
    app.post_protobuf(&own, None).await;
    // Sent with a tenant header: kept there, whatever it carries.
    let headed = SpanSpec::new(5, 1, None, "GET /x", SpanKind::Server, start, 2)
        .attr(string_attr("learner.id", "ada-1"));
    app.post_protobuf(&request("api", &[headed]), Some("team-a"))
        .await;

    assert_eq!(traces_of(&app, Some(ada.as_str())).await, [hex(1)]);
    assert_eq!(traces_of(&app, Some(bo.as_str())).await, [hex(2), hex(4)]);
    assert_eq!(
        traces_of(&app, None).await,
        [hex(3)],
        "only the unmarked stays shared"
    );
    assert_eq!(traces_of(&app, Some("team-a")).await, [hex(5)]);
    let whole = app
        .store
        .trace_by_id(
            &ada,
            &dojo_traceql::model::TraceId::from_hex(&trace_hex(1)).unwrap(),
        )
        .expect("Ada's trace is in her tenant");
    assert_eq!(
        whole.spans.len(),
        3,
        "the early database span, the server span and the late client span"
    );
    let statements: Vec<_> = whole
        .spans
        .iter()
        .filter_map(|s| dojo_traceql::model::attribute(&s.attributes, "db.statement"))
        .collect();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[0], statements[1],
        "the moved span's statement was hashed once, like the late span's"
    );
    assert_eq!(
        app.store.bytes_total(),
        app.store.status().iter().map(|s| s.bytes).sum::<u64>(),
        "moving a trace keeps the store's byte count exact"
    );
    assert_eq!(
        app.store.tenants_holding(&whole.trace_id),
        [ada],
        "the trace left the shared tenant"
    );
}

#[tokio::test]
async fn without_routing_a_marked_trace_stays_where_it_was_sent() {
    let app = TestStore::start().await;
    let span = SpanSpec::new(1, 1, None, "GET /", SpanKind::Server, minutes_ago(2), 2)
        .attr(string_attr("learner.id", "ada-1"));
    app.post_protobuf(&request("api", &[span]), None).await;
    assert_eq!(traces_of(&app, None).await, [hex(1)]);
    assert!(
        traces_of(&app, Some(learner_tenant("ada-1").unwrap().as_str()))
            .await
            .is_empty()
    );
}
