//! Evaluation semantics, table-driven over the hand-built trace in `fixtures`: every
//! comparison, logical and arithmetic operator, every intrinsic and scope, every spanset and
//! structural operator, and the pipeline stages. Each row says in words why it holds.

use crate::fixtures::checkout_trace;
use dojo_traceql::model::Value;
use dojo_traceql::{ErrorKind, EvalBudget, evaluate_trace, parse};

/// The spans of every surviving spanset, merged and sorted.
fn matched(query: &str) -> Vec<usize> {
    let q = parse(query).unwrap_or_else(|e| panic!("{}", e.render(query)));
    let trace = checkout_trace();
    let sets = evaluate_trace(&q, &trace, &mut EvalBudget::default())
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut spans: Vec<usize> = sets.into_iter().flat_map(|s| s.spans).collect();
    spans.sort_unstable();
    spans.dedup();
    spans
}

fn check(cases: &[(&str, &str, &[usize])]) {
    let mut failures = Vec::new();
    for (why, query, expected) in cases {
        let got = matched(query);
        if got != *expected {
            failures.push(format!(
                "{why}\n    {query}\n    expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn intrinsics_read_the_span_and_the_trace() {
    check(&[
        ("{ } matches every span", "{ }", &[0, 1, 2, 3, 4, 5, 6, 7]),
        ("{ true } is { }", "{ true }", &[0, 1, 2, 3, 4, 5, 6, 7]),
        ("{ false } matches nothing", "{ false }", &[]),
        ("name is the span name", "{ name = \"charge\" }", &[5]),
        ("span:name is the same", "{ span:name = \"charge\" }", &[5]),
        ("duration > is strict", "{ duration > 800ms }", &[0, 1, 2]),
        (
            "duration >= includes the bound",
            "{ span:duration >= 800ms }",
            &[0, 1, 2, 4],
        ),
        ("duration < ", "{ duration < 100ms }", &[3, 7]),
        ("duration <= ", "{ duration <= 100ms }", &[3, 6, 7]),
        ("status = error", "{ status = error }", &[2, 5]),
        (
            "status != error",
            "{ status != error }",
            &[0, 1, 3, 4, 6, 7],
        ),
        ("span:status = ok", "{ span:status = ok }", &[6]),
        ("status = unset", "{ status = unset }", &[0, 1, 3, 4, 7]),
        ("statusMessage", "{ statusMessage = \"boom\" }", &[2]),
        ("span:statusMessage", "{ span:statusMessage != \"\" }", &[2]),
        ("kind = server", "{ kind = server }", &[0, 2, 5]),
        ("kind = client", "{ span:kind = client }", &[1, 3, 4]),
        (
            "kind != internal",
            "{ kind != internal }",
            &[0, 1, 2, 3, 4, 5],
        ),
        (
            "span:id is 16 hex digits",
            "{ span:id = \"0000000000000006\" }",
            &[5],
        ),
        (
            "span:parentID",
            "{ span:parentID = \"0000000000000005\" }",
            &[5],
        ),
        ("a root has no parentID", "{ span:parentID = \"\" }", &[]),
        (
            "span:childCount counts direct children",
            "{ span:childCount = 2 }",
            &[0, 2],
        ),
        (
            "leaves have no children",
            "{ span:childCount = 0 }",
            &[3, 5, 6, 7],
        ),
        (
            "trace:duration spans the whole trace",
            "{ trace:duration = 1200ms }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "traceDuration is the legacy name",
            "{ traceDuration < 1s }",
            &[],
        ),
        (
            "trace:rootName",
            "{ trace:rootName = \"GET /checkout\" }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        ("rootName", "{ rootName = \"nope\" }", &[]),
        (
            "trace:rootService",
            "{ trace:rootService = \"frontend\" }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        ("rootServiceName", "{ rootServiceName = \"api\" }", &[]),
        (
            "trace:id ignores leading zeros",
            "{ trace:id = \"0000abc\" }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        ("trace:id of another trace", "{ trace:id = \"abd\" }", &[]),
        ("event:name", "{ event:name = \"exception\" }", &[3]),
        (
            "event:timeSinceStart is event time minus span start",
            "{ event:timeSinceStart = 10ms }",
            &[3],
        ),
        (
            "event:timeSinceStart >",
            "{ event:timeSinceStart > 20ms }",
            &[],
        ),
        (
            "link:traceID",
            "{ link:traceID = \"00000000000000000000000000000def\" }",
            &[4],
        ),
        (
            "link:spanID",
            "{ link:spanID = \"000000000000000a\" }",
            &[4],
        ),
        (
            "instrumentation:name",
            "{ instrumentation:name = \"api-instr\" }",
            &[2, 3, 4, 5],
        ),
        (
            "instrumentation:version",
            "{ instrumentation:version = \"1.2\" }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "nestedSetLeft starts at 1 on the root",
            "{ nestedSetLeft = 1 }",
            &[0],
        ),
        (
            "roots have nestedSetParent -1",
            "{ nestedSetParent = -1 }",
            &[0],
        ),
        ("orphans stay unnumbered", "{ nestedSetRight = 0 }", &[7]),
    ]);
}

#[test]
fn attributes_are_looked_up_by_scope() {
    check(&[
        ("span scope", "{ span.http.status_code = 500 }", &[2]),
        (
            "resource scope",
            "{ resource.service.name = \"api\" }",
            &[2, 3, 4],
        ),
        (
            "unscoped falls back to the resource",
            "{ .service.name = \"api\" }",
            &[2, 3, 4],
        ),
        (
            "a span attribute shadows the resource one",
            "{ .service.name = \"frontend\" }",
            &[0, 1],
        ),
        (
            "…and is found first",
            "{ .service.name = \"shadow\" }",
            &[6],
        ),
        (
            "span scope does not look at the resource",
            "{ span.service.name = \"api\" }",
            &[],
        ),
        (
            "event scope",
            "{ event.exception.type = \"TimeoutError\" }",
            &[3],
        ),
        (
            "one event must satisfy all event conditions",
            "{ event:name = \"exception\" && event.exception.type = \"TimeoutError\" }",
            &[3],
        ),
        (
            "event = nil needs an event to exist",
            "{ event.foo = nil }",
            &[3],
        ),
        ("link scope", "{ link.kind = \"retry\" }", &[4]),
        (
            "link = nil needs a link to exist",
            "{ link.foo = nil }",
            &[4],
        ),
        (
            "instrumentation scope",
            "{ instrumentation.lib.language = \"rust\" }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "quoted attribute names",
            "{ span.\"http.status_code\" = 500 }",
            &[2],
        ),
    ]);
}

#[test]
fn comparisons_follow_tempo_including_the_traps() {
    check(&[
        ("= on ints", "{ .http.status_code = 500 }", &[2]),
        (
            "!= skips spans without the attribute",
            "{ .http.status_code != 500 }",
            &[0],
        ),
        (
            "spell out the missing case with = nil",
            "{ .http.status_code != 500 || .http.status_code = nil }",
            &[0, 1, 3, 4, 5, 6, 7],
        ),
        ("> on ints", "{ .http.status_code > 200 }", &[2]),
        (">= on ints", "{ .http.status_code >= 200 }", &[0, 2]),
        ("< on ints", "{ .http.status_code < 500 }", &[0]),
        (
            "<= with the operands flipped",
            "{ 200 >= .http.status_code }",
            &[0],
        ),
        (
            "an int attribute never equals a float literal, as in Tempo's storage",
            "{ .http.status_code = 500.0 }",
            &[],
        ),
        (
            "nor the other way round, whichever side the literal is on",
            "{ 500.0 <= .http.status_code }",
            &[],
        ),
        (
            "an int attribute compares with an int literal",
            "{ .http.status_code >= 500 }",
            &[2],
        ),
        (
            "computed numbers still compare across int and float",
            "{ .http.status_code * 1.0 = 500.0 }",
            &[2],
        ),
        (
            "a string never equals an int",
            "{ .http.status_code = \"500\" }",
            &[],
        ),
        (
            "…nor differs from it",
            "{ .http.status_code != \"500\" }",
            &[],
        ),
        (
            "strings order by bytes",
            "{ name > \"r\" && name < \"s\" }",
            &[6],
        ),
        ("regexes are anchored", "{ .region =~ \"u\" }", &[]),
        ("=~ matches the whole value", "{ .region =~ \"e.*\" }", &[2]),
        (
            "!~ skips missing attributes",
            "{ .region !~ \"x.*\" }",
            &[2],
        ),
        (
            "(?i) makes a regex case-insensitive",
            "{ name =~ \"(?i)get.*\" }",
            &[0],
        ),
        (
            "an array matches when any element does",
            "{ .tags = \"a\" }",
            &[2],
        ),
        (
            "!= on an array means no element equals",
            "{ .tags != \"a\" }",
            &[],
        ),
        ("…so an absent value passes", "{ .tags != \"z\" }", &[2]),
        ("regex on an array", "{ .tags =~ \"b\" }", &[2]),
        ("floats", "{ .ratio > 0.4 }", &[2]),
        ("booleans on their own", "{ .flag }", &[4]),
        ("= true", "{ .flag = true }", &[4]),
        ("! negates a boolean", "{ !.flag }", &[3]),
        (
            "!( = ) matches spans without the attribute",
            "{ !(.http.status_code = 500) }",
            &[0, 1, 3, 4, 5, 6, 7],
        ),
        (
            "= nil finds spans without the attribute",
            "{ .region = nil }",
            &[0, 1, 3, 4, 5, 6, 7],
        ),
        ("!= nil finds spans with it", "{ .region != nil }", &[2]),
        ("nil = nil is always false", "{ nil = nil }", &[]),
        (
            "intrinsics are never nil",
            "{ name != nil }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "&& needs both",
            "{ .http.status_code = 500 && status = error }",
            &[2],
        ),
        (
            "|| needs either",
            "{ name = \"charge\" || name = \"render\" }",
            &[5, 6],
        ),
        (
            "&& and || share a level, left to right",
            "{ name = \"charge\" || name = \"render\" && status = ok }",
            &[6],
        ),
        (
            "a duration is compared in nanoseconds with ints",
            "{ duration = 50000000 }",
            &[3],
        ),
    ]);
}

#[test]
fn arithmetic_keeps_ints_and_otherwise_computes_in_floats() {
    check(&[
        ("+", "{ .http.status_code + 1 = 201 }", &[0]),
        ("-", "{ .http.status_code - 300 = 200 }", &[2]),
        ("* on floats", "{ .ratio * 2 = 1 }", &[2]),
        ("/ truncates ints", "{ .http.status_code / 300 = 1 }", &[2]),
        ("%", "{ .http.status_code % 7 = 3 }", &[2]),
        (
            "^ computes base to the power (not Tempo's swapped operands)",
            "{ 2 ^ 3 = 8 }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        ("unary minus", "{ -.http.status_code = -500 }", &[2]),
        (
            "durations mix with numbers",
            "{ duration * 2 = 100ms }",
            &[3],
        ),
        (
            "* binds tighter than +",
            "{ 1 + 2 * 3 = 7 }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "parentheses",
            "{ (1 + 2) * 3 = 9 }",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "arithmetic on a missing attribute matches nothing",
            "{ .nope + 1 > 0 }",
            &[],
        ),
        (
            "float division by zero matches nothing",
            "{ .ratio / 0 = 1 }",
            &[],
        ),
    ]);
}

#[test]
fn spanset_operators_combine_and_relate_spans() {
    check(&[
        (
            "&& returns both sides when both match",
            "{ status = error } && { kind = internal }",
            &[2, 5, 6, 7],
        ),
        (
            "&& with an empty side is empty",
            "{ status = error } && { name = \"nope\" }",
            &[],
        ),
        (
            "|| returns whichever matched",
            "{ status = error } || { name = \"nope\" }",
            &[2, 5],
        ),
        (
            "> child: right-hand spans whose parent is on the left",
            "{ name = \"HTTP POST\" } > { kind = server }",
            &[2],
        ),
        (
            "< parent: right-hand spans that are the parent of a left span",
            "{ name = \"charge\" } < { }",
            &[4],
        ),
        (
            ">> descendant",
            "{ resource.service.name = \"frontend\" } >> { status = error }",
            &[2, 5],
        ),
        ("<< ancestor", "{ status = error } << { }", &[0, 1, 2, 4]),
        (
            "~ sibling (not itself)",
            "{ name = \"SELECT\" } ~ { }",
            &[4],
        ),
        (
            "roots of one trace are not siblings of orphans",
            "{ name = \"orphan\" } ~ { }",
            &[],
        ),
        (
            "!> not child",
            "{ name = \"GET /checkout\" } !> { }",
            &[0, 2, 3, 4, 5, 7],
        ),
        (
            "!< not parent: leaf spans of a service",
            "{ } !< { resource.service.name = \"api\" }",
            &[3],
        ),
        (
            "!>> not descendant",
            "{ status = error } !>> { }",
            &[0, 1, 2, 6, 7],
        ),
        (
            "!<< not ancestor",
            "{ kind = server } !<< { kind = server }",
            &[5],
        ),
        (
            "!~ not sibling",
            "{ name = \"SELECT\" } !~ { kind = client }",
            &[1, 3],
        ),
        (
            "negated with an empty left side returns all right spans",
            "{ name = \"nope\" } !> { kind = server }",
            &[0, 2, 5],
        ),
        (
            "&> union child: both ends of each relation",
            "{ name = \"HTTP POST\" } &> { kind = server }",
            &[1, 2],
        ),
        ("&< union parent", "{ name = \"charge\" } &< { }", &[4, 5]),
        (
            "&>> union descendant",
            "{ name = \"GET /checkout\" } &>> { status = error }",
            &[0, 2, 5],
        ),
        (
            "&<< union ancestor",
            "{ status = error } &<< { kind = server }",
            &[0, 2, 5],
        ),
        ("&~ union sibling", "{ name = \"SELECT\" } &~ { }", &[3, 4]),
        (
            "structural chains are left to right",
            "{ kind = server } >> { kind = client } >> { status = error }",
            &[2, 5],
        ),
        (
            "structural binds tighter than &&",
            "{ name = \"render\" } && { name = \"payments\" } > { }",
            &[5, 6],
        ),
        (
            "parentheses regroup: children of either side",
            "({ name = \"render\" } && { name = \"payments\" }) > { }",
            &[5],
        ),
    ]);
}

#[test]
fn pipelines_filter_group_and_aggregate() {
    check(&[
        (
            "a second filter keeps spans of the first",
            "{ status = error } | { kind = server }",
            &[2, 5],
        ),
        (
            "…and only those",
            "{ kind = client } | { status = error }",
            &[],
        ),
        ("count()", "{ kind = client } | count() = 3", &[1, 3, 4]),
        ("count() too high", "{ kind = client } | count() > 3", &[]),
        (
            "a scalar filter may start the pipeline",
            "count() > 7",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "avg(duration) of 4760ms over 8 spans is 595ms",
            "{ } | avg(duration) = 595ms",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "max",
            "{ } | max(duration) = 1200ms",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "min",
            "{ } | min(duration) = 10ms",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "sum",
            "{ } | sum(duration) = 4760ms",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "avg of ints is a float",
            "{ } | avg(.http.status_code) = 350",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "aggregates skip missing values, and all-missing drops the spanset",
            "{ } | max(.nope) < 5",
            &[],
        ),
        (
            "aggregates of expressions",
            "{ } | max(.http.status_code * 2) = 1000",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "by() then count() per group",
            "{ } | by(resource.service.name) | count() > 2",
            &[0, 1, 2, 3, 4, 6],
        ),
        (
            "by() keeps a nil group",
            "{ } | by(.region) | count() = 7",
            &[0, 1, 3, 4, 5, 6, 7],
        ),
        (
            "coalesce() merges the groups again",
            "{ } | by(resource.service.name) | coalesce() | count() = 8",
            &[0, 1, 2, 3, 4, 5, 6, 7],
        ),
        (
            "by() can lead",
            "by(kind) | count() = 3",
            &[0, 1, 2, 3, 4, 5],
        ),
        (
            "select() filters nothing",
            "{ status = error } | select(span.http.method, name)",
            &[2, 5],
        ),
        (
            "grouped pipelines combine",
            "({ kind = server } | count() > 2) && { status = error }",
            &[0, 2, 5],
        ),
        (
            "a failing group empties &&",
            "({ kind = server } | count() > 3) && { status = error }",
            &[],
        ),
    ]);
}

#[test]
fn aggregates_and_groups_are_attached_to_the_spanset() {
    let trace = checkout_trace();
    let q = parse("{ } | by(resource.service.name) | count() > 2 | avg(duration) > 1ms").unwrap();
    let sets = evaluate_trace(&q, &trace, &mut EvalBudget::default()).unwrap();
    let attrs: Vec<_> = sets.iter().map(|s| s.attributes.clone()).collect();
    assert_eq!(
        attrs,
        vec![
            vec![
                (
                    "by(resource.service.name)".to_string(),
                    Value::str("frontend")
                ),
                ("count()".to_string(), Value::Int(3)),
                ("avg(duration)".to_string(), Value::str("766.666666ms")),
            ],
            vec![
                ("by(resource.service.name)".to_string(), Value::str("api")),
                ("count()".to_string(), Value::Int(3)),
                ("avg(duration)".to_string(), Value::str("583.333333ms")),
            ],
        ]
    );
    assert_eq!(sets[0].matched, 3);
}

#[test]
fn spanset_operators_refuse_several_spansets_per_trace() {
    let q = parse("({ } | by(kind)) > { }").unwrap();
    let err = evaluate_trace(&q, &checkout_trace(), &mut EvalBudget::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime);
    assert!(err.message.contains("coalesce()"), "{}", err.message);
}

#[test]
fn integer_division_by_zero_is_a_runtime_error() {
    let q = parse("{ .http.status_code / 0 = 1 }").unwrap();
    let err = evaluate_trace(&q, &checkout_trace(), &mut EvalBudget::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime);
}

#[test]
fn evaluation_stops_when_the_budget_runs_out() {
    let q = parse("{ } >> { } >> { }").unwrap();
    let err = evaluate_trace(&q, &checkout_trace(), &mut EvalBudget::new(10, None)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Budget);
}

#[test]
fn a_metrics_query_is_not_a_search() {
    let q = parse("{ } | rate() by (resource.service.name)").unwrap();
    assert!(q.is_metrics());
    let err = evaluate_trace(&q, &checkout_trace(), &mut EvalBudget::default()).unwrap_err();
    assert!(err.message.contains("metrics"), "{}", err.message);
}
