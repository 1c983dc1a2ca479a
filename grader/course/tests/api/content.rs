//! The lessons' TraceQL is real TraceQL: every ```traceql block in content/ parses with the
//! same engine the grader and the store use, so a learner never copies a broken example.

use dojo_course::content::Course;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::support::content_dir;

/// Every (lesson path, query) of a ```traceql block.
fn traceql_blocks(course: &Course) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for lesson in &course.lessons {
        let mut current: Option<String> = None;
        for event in Parser::new_ext(&lesson.source, dojo_course::markdown::options()) {
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang)))
                    if &*lang == "traceql" =>
                {
                    current = Some(String::new())
                }
                Event::Text(text) => {
                    if let Some(code) = current.as_mut() {
                        code.push_str(&text);
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some(code) = current.take() {
                        out.push((lesson.chapter.path.clone(), code.trim().to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn every_traceql_block_in_the_lessons_parses() {
    let course = Course::load(&content_dir()).expect("content/ loads");
    let blocks = traceql_blocks(&course);
    assert!(
        blocks.len() >= 40,
        "expected the lessons to carry many examples, found {}",
        blocks.len()
    );
    let failures: Vec<String> = blocks
        .iter()
        .filter_map(|(path, query)| {
            dojo_traceql::parse(query)
                .err()
                .map(|error| format!("{path}: {query}\n{}", error.render(query)))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} lesson queries do not parse:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_search_example_in_the_lessons_runs_in_the_console() {
    // Metrics queries are the exception: the console lists traces and says so.
    let course = Course::load(&content_dir()).expect("content/ loads");
    let shelf = crate::support::Shelf::sample();
    for (path, query) in traceql_blocks(&course) {
        let parsed = dojo_traceql::parse(&query).expect("checked by the test above");
        let result = dojo_course::engine::search(&shelf.traces, &query, 20);
        assert_eq!(
            result.is_ok(),
            !parsed.is_metrics(),
            "{path}: {query}: {result:?}"
        );
    }
}
