//! Pass: tabs, one panel per choice (a language, an operating system), working without
//! JavaScript. A group is a run of paragraphs that are exactly `{{#tab Name}}`, each starting
//! a panel that holds everything up to the next one, closed by a paragraph that is exactly
//! `{{#endtabs}}` (or the end of the page):
//!
//! ```markdown
//! {{#tab Rust}}
//!
//! Rust's instructions.
//!
//! {{#tab Python}}
//!
//! Python's instructions.
//!
//! {{#endtabs}}
//! ```
//!
//! Each group becomes radio buttons with labels, then the panels; the stylesheet shows the
//! panel whose radio button is checked (the first, until the reader picks another). The radio
//! buttons stay focusable, so the tabs work from the keyboard too.

use pulldown_cmark::{CowStr, Event};

use super::escape;

/// What a marker paragraph says.
#[derive(Debug, Clone, PartialEq)]
enum Marker {
    Tab(String),
    End,
}

/// Expands tab groups into radio-button tabs.
pub fn expand(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    // Where each marker paragraph is: (first event, events spanned, marker).
    let mut markers = Vec::new();
    let mut index = 0;
    while index < events.len() {
        match marker_paragraph(&events[index..]) {
            Some((marker, consumed)) => {
                markers.push((index, consumed, marker));
                index += consumed;
            }
            None => index += 1,
        }
    }
    if markers.is_empty() {
        return events;
    }

    let mut out = Vec::with_capacity(events.len() + markers.len() * 2);
    let mut group = 0;
    let mut cursor = 0;
    let mut m = 0;
    while m < markers.len() {
        let (start, _, ref marker) = markers[m];
        let Marker::Tab(_) = marker else {
            // A stray `{{#endtabs}}`: left as text for the author to see.
            m += 1;
            continue;
        };
        // The group: this tab and the tabs after it, up to an end marker.
        let mut tabs = Vec::new();
        let mut end = None;
        for (offset, (at, consumed, marker)) in markers[m..].iter().enumerate() {
            match marker {
                Marker::Tab(name) => tabs.push((*at, *consumed, name.clone())),
                Marker::End => {
                    end = Some((*at, *consumed, m + offset + 1));
                    break;
                }
            }
        }
        let (group_end, resume, next_marker) = match end {
            Some((at, consumed, next)) => (at, at + consumed, next),
            None => (events.len(), events.len(), markers.len()),
        };
        out.extend(events[cursor..start].iter().cloned());
        group += 1;
        out.push(Event::Html(CowStr::from(group_head(group, &tabs))));
        for (i, (at, consumed, _)) in tabs.iter().enumerate() {
            let panel_end = tabs.get(i + 1).map_or(group_end, |(next, _, _)| *next);
            out.push(Event::Html(CowStr::from(format!(
                "<div class=\"tab-panel\" id=\"tabs-{group}-{i}-panel\" role=\"tabpanel\">\n"
            ))));
            out.extend(events[at + consumed..panel_end].iter().cloned());
            out.push(Event::Html(CowStr::from("</div>\n")));
        }
        out.push(Event::Html(CowStr::from("</div>\n")));
        cursor = resume;
        m = next_marker;
    }
    out.extend(events[cursor..].iter().cloned());
    out
}

/// The group's opening: its radio buttons and their labels, the first one checked.
fn group_head(group: usize, tabs: &[(usize, usize, String)]) -> String {
    let mut html = format!("<div class=\"tabs\" id=\"tabs-{group}\">\n");
    for (i, (_, _, name)) in tabs.iter().enumerate() {
        let checked = if i == 0 { " checked" } else { "" };
        let name = escape(name);
        html.push_str(&format!(
            "<input type=\"radio\" name=\"tabs-{group}\" id=\"tabs-{group}-{i}\" aria-controls=\"tabs-{group}-{i}-panel\"{checked}>\
             <label for=\"tabs-{group}-{i}\">{name}</label>\n"
        ));
    }
    html
}

/// If `events` starts with a paragraph holding only a tab marker, the marker and the number
/// of events it spans.
fn marker_paragraph(events: &[Event<'_>]) -> Option<(Marker, usize)> {
    let (text, spans) = super::shortcodes::text_paragraph(events)?;
    parse(&text).map(|marker| (marker, spans))
}

fn parse(text: &str) -> Option<Marker> {
    let text = text.trim();
    if text == "{{#endtabs}}" {
        return Some(Marker::End);
    }
    let name = text.strip_prefix("{{#tab ")?.strip_suffix("}}")?.trim();
    (!name.is_empty() && !name.contains(['{', '}'])).then(|| Marker::Tab(name.to_string()))
}

#[cfg(test)]
mod tests {
    use crate::markdown::{RenderContext, render};

    fn html(markdown: &str) -> String {
        render(markdown, &RenderContext::default()).html
    }

    #[test]
    fn a_tab_group_becomes_radio_buttons_and_one_panel_per_tab() {
        let page = html(
            "Before.\n\n{{#tab Rust}}\n\nUse `cargo`.\n\n{{#tab Node.js}}\n\n```shell\nnode x.js\n```\n\n{{#endtabs}}\n\nAfter.",
        );
        assert!(page.contains(r#"<div class="tabs" id="tabs-1">"#), "{page}");
        assert!(page.contains(r#"id="tabs-1-0" aria-controls="tabs-1-0-panel" checked><label for="tabs-1-0">Rust</label>"#), "{page}");
        assert!(
            page.contains(r#"<label for="tabs-1-1">Node.js</label>"#),
            "{page}"
        );
        let rust = page.find("tabs-1-0-panel\" role").expect("Rust's panel");
        let node = page.find("tabs-1-1-panel\" role").expect("Node's panel");
        let cargo = page.find("<code>cargo</code>").expect("Rust's text");
        assert!(
            rust < cargo && cargo < node,
            "Rust's text is in Rust's panel: {page}"
        );
        assert!(page.find("After.").expect("text after") > node);
        assert!(!page.contains("{{#tab"), "{page}");
        assert!(!page.contains("{{#endtabs"), "{page}");
    }

    #[test]
    fn groups_are_numbered_and_an_unclosed_group_ends_with_the_page() {
        let page = html("{{#tab A}}\n\na\n\n{{#endtabs}}\n\n{{#tab B}}\n\nb");
        assert!(
            page.contains(r#"id="tabs-1""#) && page.contains(r#"id="tabs-2""#),
            "{page}"
        );
        assert!(page.trim_end().ends_with("</div>"), "{page}");
    }

    #[test]
    fn markers_inside_sentences_or_without_a_name_are_left_alone() {
        assert_eq!(super::parse("see {{#tab Rust}} here"), None);
        assert_eq!(super::parse("{{#tab }}"), None);
        assert!(
            html("{{#tab C & \"C++\"}}\n\nx")
                .contains("<label for=\"tabs-1-0\">C &amp; &quot;C++&quot;</label>"),
            "tab names are escaped"
        );
        assert!(html("Text.\n\n{{#endtabs}}").contains("{{#endtabs}}"));
    }
}
