//! Pass: fenced code blocks are coloured on the server, so pages need no JavaScript. Each
//! language has a small hand-written scanner in its own module; all of them produce the same
//! few classes (`hl-kw`, `hl-str`, `hl-num`, `hl-com`, `hl-attr`, `hl-fn`, `hl-op`, `hl-lit`)
//! that the stylesheet colours. TraceQL blocks also get a "Run in the console" link, and a
//! block marked `returns with=FAULT` (see
//! [`crate::content::examples`]) tells the learner which fault makes it find traces.

pub mod rust;
mod scanner;
pub mod shell;
pub mod traceql;
pub mod yaml;

pub use scanner::Class;
pub(crate) use scanner::{Scanner, quoted_len, run_len};

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Tag, TagEnd};

use super::{escape, escape_into};

/// Replaces every fenced code block with highlighted HTML.
pub fn expand(events: Vec<Event<'_>>, notes: Option<CodeNotes>) -> Vec<Event<'_>> {
    let mut out = Vec::with_capacity(events.len());
    // (info string, code)
    let mut block: Option<(String, String)> = None;
    for event in events {
        match (event, block.as_mut()) {
            (Event::Start(Tag::CodeBlock(kind)), None) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                block = Some((info, String::new()));
            }
            (Event::Text(text), Some((_, code))) => code.push_str(&text),
            (Event::End(TagEnd::CodeBlock), Some(_)) => {
                if let Some((info, code)) = block.take() {
                    out.push(Event::Html(CowStr::from(code_block(&info, &code, notes))));
                }
            }
            (event, _) => out.push(event),
        }
    }
    out
}

/// What a page adds after a code block, given the fence's info string and the code (see
/// [`super::RenderContext::code_notes`]).
pub type CodeNotes = fn(info: &str, code: &str) -> String;

/// The HTML of one code block; `info` is the fence's info string, its first word the language;
/// `notes` adds the page's own notes after it.
pub fn code_block(info: &str, code: &str, notes: Option<CodeNotes>) -> String {
    let lang = info.split([' ', ',']).next().unwrap_or("");
    let body = highlight(lang, code);
    let class = if lang.is_empty() {
        "text".to_string()
    } else {
        escape(lang)
    };
    let mut html =
        format!("<div class=\"code\"><pre class=\"lang-{class}\"><code>{body}</code></pre>");
    if lang == "traceql" {
        html.push_str(&traceql_notes(code.trim()));
    }
    if let Some(notes) = notes {
        html.push_str(&notes(info, code));
    }
    html.push_str("</div>\n");
    html
}

/// What follows a TraceQL block: where to run it.
fn traceql_notes(query: &str) -> String {
    // The console runs search and metrics queries alike (a metrics query shows its series,
    // or, against a remote Tempo, says where it runs).
    format!(
        "<p class=\"run\"><a href=\"/console?q={}\">Run in the console</a></p>",
        form_urlencode(query)
    )
}

/// Highlighted, escaped HTML for `code` (plain escaped text for unknown languages).
pub fn highlight(lang: &str, code: &str) -> String {
    let tokens = match lang {
        "traceql" => traceql::tokens(code),
        "rust" | "rs" => rust::tokens(code),
        "yaml" | "yml" => yaml::tokens(code),
        "shell" | "sh" | "bash" | "console" => shell::tokens(code),
        _ => vec![(Class::Plain, code)],
    };
    let mut out = String::with_capacity(code.len() * 2);
    for (class, text) in tokens {
        match class.css() {
            Some(css) => {
                out.push_str("<span class=\"");
                out.push_str(css);
                out.push_str("\">");
                escape_into(&mut out, text);
                out.push_str("</span>");
            }
            None => escape_into(&mut out, text),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` encoding, for query-string links.
pub fn form_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_languages_are_escaped_but_not_coloured() {
        assert_eq!(highlight("text", "a < b"), "a &lt; b");
    }

    #[test]
    fn metrics_blocks_link_to_the_console_too() {
        let html = code_block("traceql returns", "{ } | rate()", None);
        assert!(html.contains("/console?q=%7B+%7D+%7C+rate%28%29"), "{html}");
    }

    #[test]
    fn traceql_blocks_link_to_the_console_with_the_query() {
        let html = code_block("traceql", "{ status = error }\n", None);
        assert!(
            html.contains("/console?q=%7B+status+%3D+error+%7D"),
            "{html}"
        );
    }

    #[test]
    fn every_language_keeps_every_character_of_the_source() {
        let samples = [
            (
                "traceql",
                "{ span.http.route =~ \"/a.*\" && duration > 1.5s } | count() > 2 // c",
            ),
            (
                "rust",
                "fn main() { let s = \"x\\\"y\"; // hi\n 'a'; 1.0e3 }",
            ),
            ("yaml", "a: 1\n# c\nb: \"x\" # tail\n- item\n"),
            (
                "shell",
                "export A=\"b c\" # note\ncargo run -- --flag 'q'\n",
            ),
            ("rust", "é ünïcode ✓"),
        ];
        for (lang, code) in samples {
            let tokens: String = match lang {
                "traceql" => traceql::tokens(code),
                "rust" => rust::tokens(code),
                "yaml" => yaml::tokens(code),
                _ => shell::tokens(code),
            }
            .into_iter()
            .map(|(_, t)| t)
            .collect();
            assert_eq!(tokens, code, "{lang} lost text");
        }
    }
}
