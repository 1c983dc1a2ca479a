//! The table of contents, read from `content/SUMMARY.md` in mdBook's format: `# Part` headings
//! group chapters; `- [Title](path.md)` list items are chapters in reading order; a link
//! outside any list (before the first part) is a prefix chapter such as the welcome page.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use super::ContentError;

/// One entry of the table of contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    /// The title shown in the sidebar.
    pub title: String,
    /// The markdown file, relative to `content/` (`tracing/sampling.md`).
    pub path: String,
    /// The part it belongs to (`TraceQL`), empty for prefix chapters.
    pub part: String,
}

impl Chapter {
    /// The lesson's URL slug: its path without `.md` (`tracing/sampling`).
    pub fn slug(&self) -> &str {
        self.path.strip_suffix(".md").unwrap_or(&self.path)
    }
}

/// Reads a SUMMARY.md into chapters in reading order.
pub fn parse(summary: &str) -> Result<Vec<Chapter>, ContentError> {
    let mut chapters = Vec::new();
    let mut part = String::new();
    let mut in_part_heading = false;
    let mut seen_first_heading = false;
    let mut link: Option<(String, String)> = None;
    for event in Parser::new(summary) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                in_part_heading = true;
                part.clear();
            }
            Event::End(TagEnd::Heading(_)) => {
                in_part_heading = false;
                // The first heading is the file's own title ("Summary"), not a part.
                if !seen_first_heading {
                    seen_first_heading = true;
                    part.clear();
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                link = Some((dest_url.to_string(), String::new()))
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, title)) = link.as_mut() {
                    title.push_str(&text);
                } else if in_part_heading {
                    part.push_str(&text);
                }
            }
            Event::End(TagEnd::Link) => {
                if let Some((path, title)) = link.take() {
                    if !path.ends_with(".md") || path.contains("..") || path.starts_with('/') {
                        return Err(ContentError::Summary(format!(
                            "the entry \"{title}\" links to {path:?}; every entry must be a .md file inside content/"
                        )));
                    }
                    chapters.push(Chapter {
                        title,
                        path,
                        part: part.trim().to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    if chapters.is_empty() {
        return Err(ContentError::Summary(
            "it lists no chapters: add lines like `- [Title](file.md)`".into(),
        ));
    }
    Ok(chapters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_group_chapters_and_the_prefix_chapter_has_no_part() {
        let chapters = parse("# Summary\n\n[Welcome](index.md)\n\n# Basics\n\n- [One](a/one.md)\n- [Two](a/two.md)\n\n# Labs\n\n- [Lab](labs/x.md)\n").unwrap();
        let got: Vec<_> = chapters
            .iter()
            .map(|c| (c.title.as_str(), c.slug(), c.part.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Welcome", "index", ""),
                ("One", "a/one", "Basics"),
                ("Two", "a/two", "Basics"),
                ("Lab", "labs/x", "Labs")
            ]
        );
    }

    #[test]
    fn an_entry_outside_content_is_refused_with_its_title() {
        let error = parse("# Summary\n- [Escape](../secret.md)\n").unwrap_err();
        assert!(error.to_string().contains("Escape"), "{error}");
    }
}
