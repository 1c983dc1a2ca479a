//! Pass: GitHub-style alert blocks (`> [!NOTE]`, `> [!TIP]`, `> [!WARNING]` …), which the
//! parser reports as block quotes with a kind, become titled boxes the stylesheet colours.

use pulldown_cmark::{BlockQuoteKind, CowStr, Event, Tag, TagEnd};

/// Replaces kinded block quotes with `<div class="admonition …">` boxes.
pub fn expand(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    events
        .into_iter()
        .map(|event| match event {
            Event::Start(Tag::BlockQuote(Some(kind))) => {
                let (class, title) = describe(kind);
                Event::Html(CowStr::from(format!(
                    "<div class=\"admonition {class}\" role=\"note\"><p class=\"admonition-title\">{title}</p>\n"
                )))
            }
            Event::End(TagEnd::BlockQuote(Some(_))) => Event::Html(CowStr::from("</div>\n")),
            other => other,
        })
        .collect()
}

fn describe(kind: BlockQuoteKind) -> (&'static str, &'static str) {
    match kind {
        BlockQuoteKind::Note => ("note", "Note"),
        BlockQuoteKind::Tip => ("tip", "Tip"),
        BlockQuoteKind::Important => ("important", "Important"),
        BlockQuoteKind::Warning => ("warning", "Watch out"),
        BlockQuoteKind::Caution => ("caution", "Caution"),
    }
}

#[cfg(test)]
mod tests {
    use crate::markdown::{RenderContext, render};

    #[test]
    fn a_warning_block_becomes_a_titled_box() {
        let page = render(
            "> [!WARNING]\n> Never log a password.\n",
            &RenderContext::default(),
        );
        assert!(
            page.html.contains(r#"<div class="admonition warning""#),
            "{}",
            page.html
        );
        assert!(page.html.contains("Never log a password."));
        assert!(!page.html.contains("<blockquote"));
    }

    #[test]
    fn a_plain_block_quote_stays_a_block_quote() {
        let page = render("> just a quote\n", &RenderContext::default());
        assert!(page.html.contains("<blockquote>"), "{}", page.html);
    }
}
