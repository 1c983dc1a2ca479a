//! Markdown to HTML: one function owns the pulldown-cmark options, and the page is built by a
//! pipeline of small named passes over the parser's events (as mdBook does), never by regexes
//! over HTML.
//!
//! The passes, in order: [`links`] (lesson-relative `.md` links become site URLs),
//! [`shortcodes`] (`{{#lab id}}` becomes a lab card), [`tabs`] (`{{#tab Name}}` panels, one
//! shown at a time, without JavaScript), [`admonitions`] (GitHub-style
//! `> [!NOTE]` blocks), [`anchors`] (ids and `§` links on headings, collected for the
//! page's table of contents) and [`highlight`] (code blocks coloured on the server).
//! Start reading at [`render`].

pub mod admonitions;
pub mod anchors;
mod escape;
pub mod highlight;
pub mod links;
pub mod shortcodes;
pub mod tabs;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

pub use anchors::Heading;
pub(crate) use escape::{escape, escape_into};

/// What the passes need to know about the page being rendered.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    /// The lesson's path inside `content/` (`tracing/sampling.md`), to resolve relative links.
    /// Empty for markdown that is not a lesson (learner reports, exercise prompts).
    pub source_path: String,
    /// What the page adds after each code block (the course's lessons add which fault an
    /// example needs); nothing when `None`.
    pub code_notes: Option<highlight::CodeNotes>,
}

/// A rendered markdown document.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The HTML body. Trusted only when the markdown was: learner markdown goes through
    /// [`render_untrusted`] instead.
    pub html: String,
    /// The first level-one heading's text, if any.
    pub title: Option<String>,
    /// Every heading with its anchor, in document order.
    pub headings: Vec<Heading>,
    /// Ids of the labs referenced by `{{#lab …}}` shortcodes.
    pub labs: Vec<String>,
}

/// The parser options, in one place: tables, footnotes, strikethrough, task lists, and GFM
/// (which gives the `> [!NOTE]` block-quote kinds the admonitions pass relies on).
pub fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
}

/// Renders trusted markdown (the course's own lessons) through every pass.
pub fn render(markdown: &str, context: &RenderContext) -> Rendered {
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options()).collect();
    let events = links::rewrite(events, &context.source_path);
    let (events, labs) = shortcodes::expand(events);
    let events = tabs::expand(events);
    let events = admonitions::expand(events);
    let (events, headings) = anchors::add(events);
    let events = highlight::expand(events, context.code_notes);
    let title = headings
        .iter()
        .find(|h| h.level == 1)
        .map(|h| h.text.clone());
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    Rendered {
        html,
        title,
        headings,
        labs,
    }
}

/// Renders markdown someone else wrote (a learner's root-cause explanation): no shortcodes,
/// no raw HTML passed through, and the result cleaned by ammonia before anyone sees it.
pub fn render_untrusted(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, options()).map(|event| match event {
        // Raw HTML is shown as text rather than trusted; ammonia would strip it anyway.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    ammonia::clean(&html)
}

/// Markdown from a lab's author or the grader for inside a line (a hint, a quiz choice, a
/// feedback message): rendered and sanitized like a learner's, without the paragraph around
/// it, so `` `span.db.system` `` becomes code.
pub fn render_untrusted_inline(markdown: &str) -> String {
    let html = render_untrusted(markdown);
    match html
        .trim_end()
        .strip_prefix("<p>")
        .and_then(|rest| rest.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => html,
    }
}

/// The plain text of a markdown document (for the search index), one entry per section:
/// `(heading anchor, heading text, section text)`. Text before the first heading belongs to a
/// section with an empty anchor.
pub fn sections(markdown: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> =
        vec![(String::new(), String::new(), String::new())];
    let mut in_heading = false;
    let mut slugs = anchors::Slugger::default();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                in_heading = true;
                out.push((String::new(), String::new(), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                in_heading = false;
                if let Some(last) = out.last_mut() {
                    last.0 = slugs.slug(&last.1);
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(last) = out.last_mut() {
                    let target = if in_heading { &mut last.1 } else { &mut last.2 };
                    target.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak | Event::End(TagEnd::Paragraph) => {
                if let Some(last) = out.last_mut() {
                    last.2.push(' ');
                }
            }
            _ => {}
        }
    }
    out.retain(|(_, heading, text)| !heading.is_empty() || !text.trim().is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_gets_its_title_anchors_and_highlighted_code() {
        let md =
            "# Sampling\n\nIntro.\n\n## Head sampling\n\n```traceql\n{ status = error }\n```\n";
        let page = render(md, &RenderContext::default());
        assert_eq!(page.title.as_deref(), Some("Sampling"));
        assert!(
            page.html.contains(r#"<h2 id="head-sampling">"#),
            "{}",
            page.html
        );
        assert!(
            page.html.contains(r#"<span class="hl-kw">status</span>"#),
            "{}",
            page.html
        );
    }

    #[test]
    fn learner_markdown_cannot_inject_script() {
        let html = render_untrusted("Hello <script>alert(1)</script> [x](javascript:alert(1))");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("Hello"));
    }

    #[test]
    fn sections_split_text_under_their_headings() {
        let sections = sections("Lead text.\n\n# Title\n\nBody one.\n\n## Part two\n\nBody `two`.");
        assert_eq!(sections[0].2.trim(), "Lead text.");
        assert_eq!(sections[1].0, "title");
        assert_eq!(sections[2].1, "Part two");
        assert_eq!(sections[2].2.trim(), "Body two.");
    }
}
