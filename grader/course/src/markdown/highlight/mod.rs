//! Pass: fenced code blocks are coloured on the server, so pages need no JavaScript. Each
//! language has a small hand-written scanner in its own module; all of them produce the same
//! few classes (`hl-kw`, `hl-str`, `hl-num`, `hl-com`, `hl-attr`, `hl-fn`, `hl-op`, `hl-lit`)
//! that the stylesheet colours. TraceQL blocks also get a "Run in the console" link, and a
//! block marked `returns with=FAULT` (see
//! [`crate::content::examples`]) tells the learner which fault makes it find traces.

pub mod rust;
pub mod shell;
pub mod traceql;
pub mod yaml;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Tag, TagEnd};

use super::{escape, escape_into};

/// Replaces every fenced code block with highlighted HTML.
pub fn expand(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
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
                    out.push(Event::Html(CowStr::from(code_block(&info, &code))));
                }
            }
            (event, _) => out.push(event),
        }
    }
    out
}

/// The HTML of one code block; `info` is the fence's info string, its first word the language.
pub fn code_block(info: &str, code: &str) -> String {
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
        html.push_str(&traceql_notes(info, code.trim()));
    }
    html.push_str("</div>\n");
    html
}

/// What follows a TraceQL block: where to run it, and which fault it needs.
fn traceql_notes(info: &str, query: &str) -> String {
    // The console runs search and metrics queries alike (a metrics query shows its series,
    // or, against a remote Tempo, says where it runs).
    let mut html = format!(
        "<p class=\"run\"><a href=\"/console?q={}\">Run in the console</a></p>",
        form_urlencode(query)
    );
    use crate::content::examples::Claim;
    let Ok(marker) = crate::content::examples::parse_marker(info) else {
        return html;
    };
    let faults = marker.returns.map(|state| state.faults).unwrap_or_default();
    if marker.secret || faults.is_empty() || marker.claim == Claim::FindsNothing {
        return html;
    }
    for setting in &faults {
        let Some(spec) = dojo_faults::FaultId::parse(&setting.id).map(|id| id.spec()) else {
            continue;
        };
        // The service's address is filled in when the page is served, from the running lab.
        let url = format!(
            "{}/admin/faults/{}",
            crate::content::shop_address_placeholder(spec.service.as_str()),
            setting.id
        );
        let (with, body) = if setting.params.is_empty() {
            (String::new(), String::new())
        } else {
            let params: Vec<String> = setting
                .params
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            (
                format!(" with {}", params.join(", ")),
                format!(" -d '{}'", setting.activation_body()),
            )
        };
        html.push_str(&format!(
            "<p class=\"needs-fault\">The healthy shop gives this query nothing to find: it finds \
             traces while the fault <code>{id}</code>{with} is on. {summary} Switch it on with \
             <code>curl -X POST {url}{body}</code> and off with <code>curl -X DELETE {url}</code>, \
             or on the instructor page.</p>",
            id = escape(&setting.id),
            with = escape(&with),
            summary = escape(spec.summary),
            url = escape(&url),
            body = escape(&body),
        ));
    }
    html
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

/// What a piece of code is, as far as colour goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Plain,
    Keyword,
    String,
    Number,
    Comment,
    Attribute,
    Function,
    Operator,
    Literal,
}

impl Class {
    fn css(self) -> Option<&'static str> {
        Some(match self {
            Class::Plain => return None,
            Class::Keyword => "hl-kw",
            Class::String => "hl-str",
            Class::Number => "hl-num",
            Class::Comment => "hl-com",
            Class::Attribute => "hl-attr",
            Class::Function => "hl-fn",
            Class::Operator => "hl-op",
            Class::Literal => "hl-lit",
        })
    }
}

/// A cursor over source text for the language scanners: they look at the rest of the input
/// and take a token of some length; `finish` merges adjacent plain text.
pub(crate) struct Scanner<'a> {
    source: &'a str,
    position: usize,
    tokens: Vec<(Class, &'a str)>,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Scanner {
            source,
            position: 0,
            tokens: Vec::new(),
        }
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.source[self.position..]
    }

    pub(crate) fn done(&self) -> bool {
        self.position >= self.source.len()
    }

    /// Takes `len` bytes (clamped to a char boundary at or after it) as one token.
    pub(crate) fn take(&mut self, class: Class, len: usize) {
        let mut end = (self.position + len.max(1)).min(self.source.len());
        while !self.source.is_char_boundary(end) {
            end += 1;
        }
        self.tokens.push((class, &self.source[self.position..end]));
        self.position = end;
    }

    /// Takes one character as plain text.
    pub(crate) fn take_char(&mut self) {
        let len = self.rest().chars().next().map(char::len_utf8).unwrap_or(1);
        self.take(Class::Plain, len);
    }

    pub(crate) fn finish(self) -> Vec<(Class, &'a str)> {
        let mut merged: Vec<(Class, &'a str)> = Vec::with_capacity(self.tokens.len());
        let mut start: Option<(usize, usize)> = None; // byte range of a pending plain run
        let mut offset = 0;
        for (class, text) in self.tokens {
            if class == Class::Plain {
                start = Some(match start {
                    Some((s, _)) => (s, offset + text.len()),
                    None => (offset, offset + text.len()),
                });
            } else {
                if let Some((s, e)) = start.take() {
                    merged.push((Class::Plain, &self.source[s..e]));
                }
                merged.push((class, text));
            }
            offset += text.len();
        }
        if let Some((s, e)) = start {
            merged.push((Class::Plain, &self.source[s..e]));
        }
        merged
    }
}

/// Length of a quoted string at the start of `text` (which starts with `quote`), honouring
/// backslash escapes when `escapes` is set; an unterminated string runs to the end of the line.
pub(crate) fn quoted_len(text: &str, quote: char, escapes: bool) -> usize {
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if escapes && c == '\\' {
            chars.next();
        } else if c == quote {
            return i + c.len_utf8();
        } else if c == '\n' {
            return i;
        }
    }
    text.len()
}

/// Length of the run of characters at the start of `text` that satisfy `keep`.
pub(crate) fn run_len(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .find(|(_, c)| !keep(*c))
        .map(|(i, _)| i)
        .unwrap_or(text.len())
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
    fn a_block_that_needs_a_fault_says_which_unless_it_is_secret() {
        let html = code_block(
            "traceql returns with=payments_failing:mode=error",
            "{ status = error }\n",
        );
        assert!(html.contains("class=\"needs-fault\""), "{html}");
        assert!(
            html.contains(
                "curl -X POST dojo-shop-address:payments/admin/faults/payments_failing -d &#39;{&quot;params&quot;:{&quot;mode&quot;:&quot;error&quot;}}&#39;"
            ),
            "{html}"
        );
        assert!(
            html.contains("<code>payments_failing</code> with mode=error is on"),
            "{html}"
        );
        let secret = code_block(
            "traceql returns with=slow_query secret",
            "{ status = error }",
        );
        assert!(!secret.contains("slow_query"), "{secret}");
        let healthy = code_block("traceql returns", "{ }");
        assert!(!healthy.contains("needs-fault"), "{healthy}");
    }

    #[test]
    fn metrics_blocks_link_to_the_console_too() {
        let html = code_block("traceql returns", "{ } | rate()");
        assert!(html.contains("/console?q=%7B+%7D+%7C+rate%28%29"), "{html}");
    }

    #[test]
    fn traceql_blocks_link_to_the_console_with_the_query() {
        let html = code_block("traceql", "{ status = error }\n");
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
