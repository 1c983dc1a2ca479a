//! Errors that teach: each common learner mistake is refused (or warned about) with the
//! position of the fault and a specific hint, in Tempo's wording where Tempo has one.

use dojo_traceql::{ErrorKind, parse};

fn error(query: &str) -> dojo_traceql::Error {
    match parse(query) {
        Ok(q) => panic!("{query:?} was accepted as {q}"),
        Err(e) => e,
    }
}

fn hint(query: &str) -> String {
    error(query)
        .hint
        .unwrap_or_else(|| panic!("{query:?} has no hint"))
}

#[test]
fn double_equals_points_at_the_operator_and_teaches_single_equals() {
    let query = "{ .http.status_code == 500 }";
    let e = error(query);
    assert_eq!(e.kind, ErrorKind::Parse);
    assert_eq!(e.line_col(query), (1, 21));
    assert!(
        e.message.starts_with("syntax error: unexpected =="),
        "{}",
        e.message
    );
    assert!(e.hint.as_deref().unwrap_or("").contains("single `=`"));
    assert_eq!(
        e.render(query),
        "parse error at line 1, col 21: syntax error: unexpected ==, expecting an operator\n  \
         { .http.status_code == 500 }\n                      ^^\nhint: TraceQL compares with a single `=`, e.g. `{ .http.status_code = 500 }`"
    );
}

#[test]
fn service_name_without_a_scope_suggests_the_resource_scope() {
    let h = hint("{ service.name = \"api\" }");
    assert!(h.contains("resource.service.name"), "{h}");
}

#[test]
fn an_unquoted_string_is_told_to_use_double_quotes() {
    let h = hint("{ name = checkout }");
    assert!(h.contains("\"checkout\""), "{h}");
}

#[test]
fn single_quotes_are_told_to_use_double_quotes() {
    assert!(hint("{ name = 'checkout' }").contains("double quotes"));
}

#[test]
fn a_duration_with_a_space_before_its_unit_is_explained() {
    assert!(hint("{ duration > 100 ms }").contains("`100ms`"));
}

#[test]
fn a_duration_without_a_unit_is_valid_but_warned_about() {
    let q = parse("{ duration > 100 }").unwrap();
    let warning = q.warnings().first().expect("a warning");
    assert!(
        warning.message.contains("100 nanoseconds"),
        "{}",
        warning.message
    );
    assert!(
        warning
            .render("{ duration > 100 }")
            .starts_with("warning at line 1, col 14")
    );
    assert!(parse("{ duration > 100ms }").unwrap().warnings().is_empty());
}

#[test]
fn a_missing_closing_brace_names_the_opening_one() {
    let query = "{ .a = 1 | count() > 1";
    let e = error(query);
    assert_eq!(e.kind, ErrorKind::Parse);
    assert!(e.hint.unwrap().contains("col 1 is not closed"));
    assert!(hint("{ .a = 1").contains("not closed"));
}

#[test]
fn a_condition_outside_braces_after_and_suggests_one_spanset() {
    let h = hint("{ .a = 1 } && .b = 2");
    assert!(h.contains("{ .a = 1 && .b = 2 }"), "{h}");
}

#[test]
fn and_between_two_filters_is_valid_but_warned_about() {
    let q = parse("{ resource.service.name = \"api\" } && { status = error }").unwrap();
    let w = &q.warnings()[0];
    assert!(
        w.hint
            .as_deref()
            .unwrap()
            .contains("{ (resource.service.name = \"api\") && (status = error) }")
    );
}

#[test]
fn keywords_in_the_wrong_case_are_explained() {
    assert!(hint("{ status = Error }").contains("lower case"));
    assert!(hint("{ Status = error }").contains("lower case"));
}

#[test]
fn a_condition_without_braces_is_told_to_use_them_and_only_a_pipe_gets_the_pipe_hint() {
    let h = hint("status = error");
    assert!(h.contains("curly braces") && h.contains("{ status"), "{h}");
    assert!(!h.contains("lower case"), "{h}");
    assert!(hint("foo").contains("curly braces"));
    assert!(hint("{ } | foo").contains("after `|`"));
}

#[test]
fn two_conditions_without_an_operator_are_told_to_use_and_or_or() {
    assert!(hint("{ .a = 1 .b = 2 }").contains("&&"));
}

#[test]
fn mismatched_scoped_intrinsics_suggest_the_right_one() {
    assert!(hint("{ trace:rootServiceName = \"a\" }").contains("trace:rootService"));
    assert!(hint("{ trace:status = error }").contains("span:status"));
    assert!(hint("{ childCount > 1 }").contains("span:childCount"));
}

#[test]
fn type_errors_are_validation_errors_with_the_types_named() {
    let e = error("{ status = \"error\" }");
    assert_eq!(e.kind, ErrorKind::Validate);
    assert!(
        e.message.contains("a status") && e.message.contains("a string"),
        "{}",
        e.message
    );
    assert!(e.hint.unwrap().contains("no quotes"));
    let e = error("{ status }");
    assert!(e.message.contains("needs a condition"), "{}", e.message);
}

#[test]
fn an_intrinsic_compared_with_nil_is_a_type_error_that_says_why() {
    // A root span has no parent, yet `span:parentID = nil` is refused (as in Tempo): the
    // message must not claim every span has a parent, and it points at the root intrinsics.
    let e = error("{ span:parentID = nil && resource.service.name = \"api\" }");
    assert_eq!(e.kind, ErrorKind::Validate);
    assert!(
        e.message.contains("span:parentID is an intrinsic")
            && e.message.contains("trace:rootService"),
        "{}",
        e.message
    );
    let e = error("{ name = nil }");
    assert!(e.message.contains("name is an intrinsic"), "{}", e.message);
    assert!(!e.message.contains("trace:rootService"), "{}", e.message);
}

#[test]
fn naked_aggregates_and_misplaced_scalar_filters_are_explained() {
    assert!(hint("{ } | count()").contains("count(…) > 2"));
    assert!(hint("count() > 3 && { true }").contains("pipeline stage"));
}

#[test]
fn unsupported_features_say_so() {
    let e = error("{ parent.http.method = \"GET\" }");
    assert!(e.is_unsupported());
    assert!(e.message.contains("not supported yet"));
}

#[test]
fn invalid_and_oversized_regexes_have_their_own_kind() {
    let e = error("{ .a =~ \"[\" }");
    assert_eq!(e.kind, ErrorKind::Regex);
    assert_eq!(e.line_col("{ .a =~ \"[\" }"), (1, 9));
    let e = error("{ .a =~ \"((a{100}){100}){100}\" }");
    assert_eq!(e.kind, ErrorKind::Regex);
    assert!(e.message.contains("too large"), "{}", e.message);
}

#[test]
fn deep_nesting_and_long_chains_hit_the_recursion_limit() {
    let nested = format!("{{ {}.a = 1{} }}", "(".repeat(500), ")".repeat(500));
    assert_eq!(error(&nested).kind, ErrorKind::TooDeep);
    let chain = format!("{{ .a = 1{} }}", " || .a = 1".repeat(500));
    assert_eq!(error(&chain).kind, ErrorKind::TooDeep);
    let spansets = vec!["{ }"; 500].join(" >> ");
    assert_eq!(error(&spansets).kind, ErrorKind::TooDeep);
    let ok = format!("{{ .a = 1{} }}", " || .a = 1".repeat(40));
    assert!(parse(&ok).is_ok());
}

#[test]
fn one_line_errors_fit_on_one_line() {
    let e = error("{ .a == 1 }");
    let line = e.one_line("{ .a == 1 }");
    assert!(!line.contains('\n'));
    assert!(
        line.starts_with("parse error at line 1, col 6: syntax error: unexpected =="),
        "{line}"
    );
    assert!(line.ends_with(
        "(hint: TraceQL compares with a single `=`, e.g. `{ .http.status_code = 500 }`)"
    ));
}

#[test]
fn positions_count_lines_and_characters() {
    let query = "{ name = \"café\" &&\n  .a == 1 }";
    assert_eq!(error(query).line_col(query), (2, 6));
}

#[test]
fn a_negated_comparison_is_valid_but_warned_that_tempo_returns_nothing() {
    let q = parse("{ !(span.http.route = \"/orders\") }").unwrap();
    let w = q.warnings().first().expect("a warning");
    assert!(w.message.contains("returns nothing"), "{}", w.message);
    let hint = w.hint.as_deref().unwrap();
    assert!(
        hint.contains("`span.http.route != \"/orders\"`") && hint.contains("= nil"),
        "{hint}"
    );
    assert!(
        parse("{ !(status = error && duration > 1s) }")
            .unwrap()
            .warnings()
            .is_empty(),
        "only a negated single comparison is pushed down as written"
    );
    assert!(parse("{ !span.cache.hit }").unwrap().warnings().is_empty());
}

#[test]
fn a_misspelt_intrinsic_or_keyword_gets_did_you_mean() {
    let cases = [
        ("{ duraton > 1s }", "did you mean `duration`?"),
        ("{ stauts = error }", "did you mean `status`?"),
        ("{ status = eror }", "did you mean `error`?"),
        ("{ kind = sever }", "did you mean `server`?"),
    ];
    for (query, wanted) in cases {
        let got = hint(query);
        assert!(got.contains(wanted), "{query}: {got}");
    }
    // A word near nothing known keeps the attribute advice.
    assert!(
        hint("{ customer > 1 }").contains("attributes start with a dot or a scope"),
        "{}",
        hint("{ customer > 1 }")
    );
}
