//! The whole course in reading order: every lesson read from `content/` once at start-up
//! and rendered to HTML then (with the fault notes lessons' examples need), so serving a page
//! is a lookup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::ContentError;
use super::fault_notes;
use super::summary::{self, Chapter};
use crate::markdown::{self, Heading, RenderContext};

/// One rendered lesson.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// Its entry in the table of contents.
    pub chapter: Chapter,
    /// The page title: the lesson's first `#` heading, else the table-of-contents title.
    pub title: String,
    /// The rendered HTML body (trusted: it is the course's own markdown).
    pub html: String,
    /// The lesson's headings, for the on-page contents.
    pub headings: Vec<Heading>,
    /// The markdown source, for the search index and the TraceQL-block tests.
    pub source: String,
    /// Labs the lesson links to with `{{#lab …}}`.
    pub labs: Vec<String>,
}

/// The whole course, in reading order.
#[derive(Debug, Clone, Default)]
pub struct Course {
    /// Lessons in the order of the table of contents.
    pub lessons: Vec<Lesson>,
    /// slug → index into `lessons`.
    by_slug: HashMap<String, usize>,
}

impl Course {
    /// Reads and renders `dir/SUMMARY.md` and every lesson it lists.
    pub fn load(dir: &Path) -> Result<Course, ContentError> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path).map_err(|source| ContentError::Read { path, source })
        };
        let chapters = summary::parse(&read(dir.join("SUMMARY.md"))?)?;
        let mut sources = Vec::with_capacity(chapters.len());
        for chapter in chapters {
            let source = read(dir.join(&chapter.path))?;
            sources.push((chapter, source));
        }
        Ok(Course::from_sources(sources))
    }

    /// Renders lessons given as (chapter, markdown) pairs, in reading order.
    pub fn from_sources(sources: Vec<(Chapter, String)>) -> Course {
        let mut lessons = Vec::with_capacity(sources.len());
        let mut by_slug = HashMap::new();
        for (chapter, source) in sources {
            let rendered = markdown::render(
                &source,
                &RenderContext {
                    source_path: chapter.path.clone(),
                    code_notes: Some(fault_notes::code_notes),
                },
            );
            by_slug.insert(chapter.slug().to_string(), lessons.len());
            lessons.push(Lesson {
                title: rendered.title.unwrap_or_else(|| chapter.title.clone()),
                chapter,
                html: rendered.html,
                headings: rendered.headings,
                source,
                labs: rendered.labs,
            });
        }
        Course { lessons, by_slug }
    }

    /// The lesson at a slug, with its position in reading order.
    pub fn lesson(&self, slug: &str) -> Option<(usize, &Lesson)> {
        let index = *self.by_slug.get(slug)?;
        self.lessons.get(index).map(|lesson| (index, lesson))
    }

    /// The lesson page that carries a lab's instructions (`{{#lab id}}`), if any.
    pub fn lesson_for_lab(&self, lab: &str) -> Option<&Lesson> {
        self.lessons
            .iter()
            .find(|lesson| lesson.labs.iter().any(|l| l == lab))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_content() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content")
    }

    #[test]
    fn the_repository_course_loads_and_every_chapter_has_a_title_and_body() {
        let course = Course::load(&repo_content()).expect("content/ loads");
        assert!(
            course.lessons.len() >= 10,
            "only {} lessons",
            course.lessons.len()
        );
        for lesson in &course.lessons {
            assert!(
                !lesson.title.is_empty(),
                "{} has no title",
                lesson.chapter.path
            );
            assert!(
                lesson.html.len() > 200,
                "{} is nearly empty",
                lesson.chapter.path
            );
        }
        assert!(course.lesson("tracing/sampling").is_some());
    }

    #[test]
    fn every_lab_page_names_its_lab_and_every_lesson_link_points_at_a_lesson() {
        let course = Course::load(&repo_content()).expect("content/ loads");
        for lab in [
            "instrument-a-service",
            "traceql-querying",
            "intermittent-slowness",
            "broken-trace",
            "quiz",
        ] {
            assert!(
                course.lesson_for_lab(lab).is_some(),
                "no page carries {{{{#lab {lab}}}}}"
            );
        }
        for lesson in &course.lessons {
            for (_, dest) in lesson
                .html
                .match_indices("href=\"/learn/")
                .map(|(i, _)| ((), &lesson.html[i + 13..]))
            {
                let slug: String = dest
                    .chars()
                    .take_while(|c| *c != '"' && *c != '#')
                    .collect();
                assert!(
                    course.lesson(&slug).is_some(),
                    "{} links to missing lesson {slug}",
                    lesson.chapter.path
                );
            }
        }
    }
}
