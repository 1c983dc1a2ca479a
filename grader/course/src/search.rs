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
    /// The distinct words of the heading and text, for matching a misspelt query word.
    words: Vec<String>,
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
                let text = without_directives(&text)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut words: Vec<String> = format!("{heading} {text}")
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() >= 4)
                    .map(str::to_string)
                    .collect();
                words.sort_unstable();
                words.dedup();
                sections.push(Section {
                    words,
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
                // The words as found in this section: a misspelt query word stands for the
                // section's word it is closest to.
                let mut found: Vec<&str> = Vec::with_capacity(words.len());
                for word in &words {
                    let (word, weight) = match section.matching(word) {
                        Some(exact) if exact == word.as_str() => (exact, 2),
                        Some(near) => (near, 1),
                        None => return None,
                    };
                    let in_heading = section.heading_lower.matches(word).count() as u32;
                    let in_text = section.text_lower.matches(word).count() as u32;
                    score += weight * (in_heading * 10 + in_text.min(10));
                    found.push(word);
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
                    snippet: snippet(&section.text, &section.text_lower, found[0]),
                    score,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.url.cmp(&b.url)));
        hits.truncate(limit);
        hits
    }
}

impl Section {
    /// `word` itself when the section has it, else the section's word closest to it within
    /// the spelling tolerance (`propagaton` finds `propagation`), else `None`.
    fn matching<'a>(&'a self, word: &'a str) -> Option<&'a str> {
        if self.heading_lower.contains(word) || self.text_lower.contains(word) {
            return Some(word);
        }
        let tolerance = dojo_traceql::spelling::tolerance(word);
        if tolerance == 0 {
            return None;
        }
        self.words
            .iter()
            .map(|known| (dojo_traceql::spelling::edit_distance(word, known), known))
            .filter(|(distance, _)| *distance <= tolerance)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, known)| known.as_str())
    }
}

/// Text without the course's `{{#…}}` directives (lab cards and the like), which mean
/// nothing in a search snippet.
fn without_directives(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
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
            (chapter("b.md"), "# Propagation\n\nThe traceparent header carries the context.\n\n{{#lab instrument-a-service}}\n\nBaggage travels too.".into()),
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

    #[test]
    fn a_misspelt_word_finds_the_word_it_is_closest_to_ranked_below_exact_matches() {
        let index = SearchIndex::build(&course());
        let hits = index.search("propagaton", 10);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].url.starts_with("/learn/b"), "{hits:?}");
        assert!(
            index.search("samplign", 10).len() >= 2,
            "a swap of two letters is one edit"
        );
        assert!(
            index.search("xyzzy", 10).is_empty(),
            "a word near nothing finds nothing"
        );
        let exact = index.search("collector", 10)[0].score;
        let near = index.search("colector", 10)[0].score;
        assert!(near < exact, "{near} < {exact}");
    }

    #[test]
    fn snippets_never_show_the_course_directives() {
        let hits = SearchIndex::build(&course()).search("baggage", 10);
        assert!(!hits.is_empty());
        assert!(
            hits.iter()
                .all(|h| !h.snippet.contains("{{") && !h.snippet.contains("}}")),
            "{hits:?}"
        );
    }
}
