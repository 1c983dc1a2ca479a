//! Pass: every heading gets a stable `id` (a slug of its text, made unique within the page)
//! and a `§` link to itself, and is collected for the page's own table of contents.

use std::collections::HashMap;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Tag, TagEnd};

/// One heading of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1 for `#`, 2 for `##` …
    pub level: u8,
    /// The heading's plain text.
    pub text: String,
    /// The anchor id, unique within the page.
    pub id: String,
}

/// Makes heading slugs, numbering repeats (`setup`, `setup-1`, …) as mdBook and GitHub do.
#[derive(Debug, Default)]
pub struct Slugger {
    seen: HashMap<String, usize>,
}

impl Slugger {
    /// The next unique slug for a heading text.
    pub fn slug(&mut self, text: &str) -> String {
        let base = slugify(text);
        let count = self.seen.entry(base.clone()).or_insert(0);
        let slug = if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        };
        *count += 1;
        slug
    }
}

/// Lower-case letters and digits, words joined by `-`.
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.extend(c.to_lowercase());
        } else if c.is_whitespace() || c == '-' || c == '_' {
            dash = true;
        }
    }
    if slug.is_empty() {
        "section".to_string()
    } else {
        slug
    }
}

/// Adds anchors to headings and returns the headings found.
pub fn add(events: Vec<Event<'_>>) -> (Vec<Event<'_>>, Vec<Heading>) {
    let mut out = Vec::with_capacity(events.len());
    let mut headings = Vec::new();
    let mut slugger = Slugger::default();
    let mut pending: Option<(HeadingLevel, Vec<Event<'_>>, String)> = None;
    for event in events {
        match (event, pending.as_mut()) {
            (Event::Start(Tag::Heading { level, .. }), None) => {
                pending = Some((level, Vec::new(), String::new()));
            }
            (Event::End(TagEnd::Heading(_)), Some(_)) => {
                let Some((level, inner, text)) = pending.take() else {
                    continue;
                };
                let id = slugger.slug(&text);
                let number = level as u8;
                out.push(Event::Html(CowStr::from(format!(
                    "<h{number} id=\"{id}\">"
                ))));
                out.extend(inner);
                out.push(Event::Html(CowStr::from(format!(
                    "<a class=\"anchor\" href=\"#{id}\" aria-label=\"Link to this section\">§</a></h{number}>\n"
                ))));
                headings.push(Heading {
                    level: number,
                    text: text.trim().to_string(),
                    id,
                });
            }
            (event, Some((_, inner, text))) => {
                if let Event::Text(t) | Event::Code(t) = &event {
                    text.push_str(t);
                }
                inner.push(event);
            }
            (event, None) => out.push(event),
        }
    }
    (out, headings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes_and_unique() {
        let mut slugger = Slugger::default();
        assert_eq!(slugger.slug("Head sampling"), "head-sampling");
        assert_eq!(
            slugger.slug("The `traceparent` header!"),
            "the-traceparent-header"
        );
        assert_eq!(slugger.slug("Head sampling"), "head-sampling-1");
        assert_eq!(slugify("???"), "section");
    }
}
