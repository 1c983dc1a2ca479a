//! Pass: lab shortcodes. A paragraph that is exactly `{{#lab <id>}}` becomes a card linking
//! to the lab's page, where the exercises, the fault scenario and the learner's progress live.
//! The lab ids found are returned so the course can check that every lab exists.

use pulldown_cmark::{CowStr, Event, Tag, TagEnd};

use super::escape;

/// Expands shortcodes; returns the events and the lab ids referenced.
pub fn expand(events: Vec<Event<'_>>) -> (Vec<Event<'_>>, Vec<String>) {
    let mut out = Vec::with_capacity(events.len());
    let mut labs = Vec::new();
    let mut index = 0;
    while index < events.len() {
        if let Some((lab, consumed)) = lab_paragraph(&events[index..]) {
            out.push(Event::Html(CowStr::from(lab_card(&lab))));
            labs.push(lab);
            index += consumed;
        } else {
            out.push(events[index].clone());
            index += 1;
        }
    }
    (out, labs)
}

/// If `events` starts with a paragraph holding only a lab shortcode, its id and the number
/// of events it spans.
fn lab_paragraph(events: &[Event<'_>]) -> Option<(String, usize)> {
    let (text, spans) = text_paragraph(events)?;
    parse(&text).map(|id| (id, spans))
}

/// If `events` starts with a paragraph of plain text only (where a `{{#…}}` directive stands
/// on its own line), that text and the number of events the paragraph spans.
pub(crate) fn text_paragraph(events: &[Event<'_>]) -> Option<(String, usize)> {
    if !matches!(events.first(), Some(Event::Start(Tag::Paragraph))) {
        return None;
    }
    let mut text = String::new();
    for (offset, event) in events.iter().enumerate().skip(1) {
        match event {
            Event::Text(t) => text.push_str(t),
            Event::End(TagEnd::Paragraph) => return Some((text, offset + 1)),
            _ => return None,
        }
    }
    None
}

/// The lab id of a `{{#lab id}}` shortcode.
pub fn parse(text: &str) -> Option<String> {
    let inner = text
        .trim()
        .strip_prefix("{{#lab")?
        .strip_suffix("}}")?
        .trim();
    let valid = !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then(|| inner.to_string())
}

fn lab_card(lab: &str) -> String {
    let lab = escape(lab);
    format!(
        "<aside class=\"lab-card\" data-lab=\"{lab}\"><p><strong>Hands-on:</strong> this page goes with a graded lab.</p>\
         <p><a class=\"button\" href=\"/labs/{lab}\">Open the lab: exercises, fault scenario and your progress</a></p></aside>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::{RenderContext, render};

    #[test]
    fn a_lab_shortcode_becomes_a_card_linking_to_the_lab() {
        let page = render(
            "# Lab\n\n{{#lab broken-trace}}\n\nText.",
            &RenderContext::default(),
        );
        assert!(
            page.html.contains(r#"href="/labs/broken-trace""#),
            "{}",
            page.html
        );
        assert!(!page.html.contains("{{#lab"));
        assert_eq!(page.labs, ["broken-trace"]);
    }

    #[test]
    fn shortcode_text_inside_a_sentence_is_left_alone() {
        assert_eq!(parse("see {{#lab x}} here"), None);
        assert_eq!(parse("{{#lab bad id}}"), None);
        assert_eq!(parse("{{#lab quiz}}").as_deref(), Some("quiz"));
    }
}
