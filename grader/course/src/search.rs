//! Search over the lessons, on the server (the page works without JavaScript). Each lesson is
//! split into sections under its headings; a query's words are matched against each section,
//! headings weigh more than body text, and every hit links to the section's anchor with a
//! snippet around the first match.

use crate::content::Course;
use crate::markdown;

/// One searchable section of a lesson.
#[derive(Debug, Clone)]
struct Section {
    slug: String,
    lesson_title: String,
    anchor: String,
    heading: String,
    heading_lower: String,
    text: String,
    text_lower: String,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The page URL with the section's anchor.
    pub url: String,
    /// "Lesson title › Section heading".
    pub title: String,
    /// Text around the first match.
    pub snippet: String,
    /// Higher is better.
    pub score: u32,
}

/// The index, built once from the course.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    sections: Vec<Section>,
}

impl SearchIndex {
    /// Indexes every section of every lesson.
    pub fn build(course: &Course) -> SearchIndex {
        let mut sections = Vec::new();
        for lesson in &course.lessons {
            for (anchor, heading, text) in markdown::sections(&lesson.source) {
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                sections.push(Section {
                    slug: lesson.chapter.slug().to_string(),
                    lesson_title: lesson.title.clone(),
                    heading_lower: heading.to_lowercase(),
                    heading,
                    anchor,
                    text_lower: text.to_lowercase(),
                    text,
                });
            }
        }
        SearchIndex { sections }
    }

    /// The best `limit` hits for a query; every word of the query must appear in the section.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let words: Vec<String> = query
            .split_whitespace()
            .map(str::to_lowercase)
            .filter(|w| !w.is_empty())
            .take(8)
            .collect();
        if words.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<Hit> = self
            .sections
            .iter()
            .filter_map(|section| {
                let mut score = 0u32;
                for word in &words {
                    let in_heading = section.heading_lower.matches(word.as_str()).count() as u32;
                    let in_text = section.text_lower.matches(word.as_str()).count() as u32;
                    if in_heading + in_text == 0 {
                        return None;
                    }
                    score += in_heading * 10 + in_text.min(10);
                }
                let title = if section.heading.is_empty() || section.heading == section.lesson_title
                {
                    section.lesson_title.clone()
                } else {
                    format!("{} › {}", section.lesson_title, section.heading)
                };
                let url = if section.anchor.is_empty() {
                    format!("/learn/{}", section.slug)
                } else {
                    format!("/learn/{}#{}", section.slug, section.anchor)
                };
                Some(Hit {
                    url,
                    title,
                    snippet: snippet(&section.text, &section.text_lower, &words[0]),
                    score,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.url.cmp(&b.url)));
        hits.truncate(limit);
        hits
    }
}

/// About 160 characters of `text` around the first occurrence of `word`.
fn snippet(text: &str, lower: &str, word: &str) -> String {
    // Lower-casing can change byte lengths; fall back to the start when positions disagree.
    let at = lower
        .find(word)
        .filter(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let mut start = at.saturating_sub(60);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 100).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(text[start..end].trim());
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Chapter;

    fn course() -> Course {
        let chapter = |path: &str| Chapter {
            title: path.into(),
            path: path.into(),
            part: String::new(),
        };
        Course::from_sources(vec![
            (chapter("a.md"), "# Sampling\n\nHead sampling decides early.\n\n## Tail sampling\n\nThe collector decides late.".into()),
            (chapter("b.md"), "# Propagation\n\nThe traceparent header carries the context.".into()),
        ])
    }

    #[test]
    fn a_heading_match_ranks_above_a_body_match_and_links_to_its_anchor() {
        let hits = SearchIndex::build(&course()).search("tail", 10);
        assert_eq!(hits[0].url, "/learn/a#tail-sampling");
        assert_eq!(hits[0].title, "Sampling › Tail sampling");
    }

    #[test]
    fn every_word_must_match_and_case_does_not_matter() {
        let index = SearchIndex::build(&course());
        assert_eq!(index.search("TRACEPARENT header", 10).len(), 1);
        assert!(index.search("traceparent collector", 10).is_empty());
        assert!(index.search("   ", 10).is_empty());
    }
}
