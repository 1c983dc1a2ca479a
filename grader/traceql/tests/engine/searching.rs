//! Search shaping as Tempo shapes a response: newest traces first, `limit` traces, at most
//! `spans_per_spanset` spans with `matched` counting all, and the fetched attributes.

use crate::fixtures::{MS, checkout_trace, trace_id};
use dojo_traceql::ast::{AttrScope, FieldRef, Intrinsic};
use dojo_traceql::model::{Trace, Value};
use dojo_traceql::{SearchOptions, field_result_value, parse, search};

/// The checkout trace, copied under new ids and start times (trace `n` starts `n` ms later).
fn traces(n: u16) -> Vec<Trace> {
    (0..n)
        .map(|i| {
            let mut t = checkout_trace();
            t.trace_id = trace_id(i + 1);
            for s in &mut t.spans {
                s.start_unix_nanos += u64::from(i) * MS;
                s.end_unix_nanos += u64::from(i) * MS;
            }
            t
        })
        .collect()
}

#[test]
fn search_returns_the_newest_traces_first_up_to_the_limit() {
    let data = traces(30);
    let q = parse("{ status = error }").unwrap();
    let found = search(&q, data.iter().rev(), &SearchOptions::default()).unwrap();
    assert_eq!(found.len(), 20, "Tempo's default limit");
    let ids: Vec<_> = found.iter().map(|m| m.trace_id).collect();
    assert_eq!(ids[0], trace_id(30));
    assert_eq!(ids[19], trace_id(11));
    let opts = SearchOptions {
        limit: 2,
        ..SearchOptions::default()
    };
    assert_eq!(search(&q, &data, &opts).unwrap().len(), 2);
}

#[test]
fn spans_per_spanset_trims_the_list_but_matched_counts_them_all() {
    let data = traces(1);
    let q = parse("{ }").unwrap();
    let found = search(&q, &data, &SearchOptions::default()).unwrap();
    assert_eq!(
        found[0].spansets[0].spans.len(),
        3,
        "Tempo's default of 3 spans per spanset"
    );
    assert_eq!(found[0].spansets[0].matched, 8);
    let opts = SearchOptions {
        spans_per_spanset: 0,
        ..SearchOptions::default()
    };
    assert_eq!(
        search(&q, &data, &opts).unwrap()[0].spansets[0].spans.len(),
        3,
        "0 means the default, not unlimited"
    );
    let opts = SearchOptions {
        spans_per_spanset: 100,
        ..SearchOptions::default()
    };
    assert_eq!(
        search(&q, &data, &opts).unwrap()[0].spansets[0].spans.len(),
        8
    );
}

#[test]
fn traces_without_a_match_are_left_out() {
    let data = traces(3);
    let q = parse("{ name = \"nope\" }").unwrap();
    assert!(
        search(&q, &data, &SearchOptions::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn fetched_attributes_list_what_the_query_reads_once_each() {
    let q = parse("{ resource.service.name = \"api\" && status = error } | by(span.region) | select(name, resource.service.name)")
        .unwrap();
    assert_eq!(
        q.fetched_attributes(),
        vec![
            FieldRef::Attribute {
                scope: AttrScope::Resource,
                name: "service.name".into()
            },
            FieldRef::Intrinsic(Intrinsic::Status),
            FieldRef::Attribute {
                scope: AttrScope::Span,
                name: "region".into()
            },
            FieldRef::Intrinsic(Intrinsic::Name),
        ]
    );
    let keys: Vec<String> = q
        .fetched_attributes()
        .iter()
        .map(FieldRef::result_key)
        .collect();
    assert_eq!(keys, ["service.name", "status", "region", "name"]);
}

#[test]
fn result_values_are_shown_as_tempo_shows_them() {
    let t = checkout_trace();
    assert_eq!(
        field_result_value(&t, 2, &FieldRef::Intrinsic(Intrinsic::Status)),
        Some(Value::str("error"))
    );
    assert_eq!(
        field_result_value(&t, 2, &FieldRef::Intrinsic(Intrinsic::Kind)),
        Some(Value::str("server"))
    );
    assert_eq!(
        field_result_value(&t, 2, &FieldRef::Intrinsic(Intrinsic::Duration)),
        Some(Value::str("900ms"))
    );
    assert_eq!(
        field_result_value(
            &t,
            2,
            &FieldRef::Attribute {
                scope: AttrScope::Span,
                name: "region".into()
            }
        ),
        Some(Value::str("eu"))
    );
    assert_eq!(
        field_result_value(
            &t,
            0,
            &FieldRef::Attribute {
                scope: AttrScope::Span,
                name: "region".into()
            }
        ),
        None
    );
    assert_eq!(
        field_result_value(&t, 99, &FieldRef::Intrinsic(Intrinsic::Name)),
        None
    );
}

#[test]
fn hints_are_kept_and_printed() {
    let q = parse("{ } | rate() with(sample=0.1, most_recent=true)").unwrap();
    assert_eq!(
        q.hint("sample"),
        Some(&dojo_traceql::ast::Static::Float(0.1))
    );
    assert_eq!(
        q.to_string(),
        "{ } | rate() with(sample=0.1, most_recent=true)"
    );
}
