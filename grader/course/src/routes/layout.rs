//! What every page shares: the sidebar's table of contents, the search box, and who is
//! signed in (with the CSRF token for the header's forms).

use std::sync::Arc;

use crate::session::Visitor;
use crate::state::CourseState;

/// One sidebar entry.
#[derive(Debug, Clone)]
pub struct TocEntry {
    pub title: String,
    pub slug: String,
}

/// A titled group of sidebar entries.
#[derive(Debug, Clone)]
pub struct TocPart {
    pub title: String,
    pub entries: Vec<TocEntry>,
}

/// The frame around every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub toc: Arc<Vec<TocPart>>,
    /// The slug of the lesson shown, to highlight it in the sidebar.
    pub current: String,
    pub learner_name: Option<String>,
    /// The signed-in learner's id: their traffic carries it as `learner.id` baggage.
    pub learner_id: Option<String>,
    pub instructor: bool,
    pub csrf: String,
    pub search_query: String,
}

impl Layout {
    pub fn new(state: &CourseState, visitor: &Visitor, title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            toc: toc(state),
            current: String::new(),
            learner_name: visitor.learner.as_ref().map(|(_, name)| name.clone()),
            learner_id: visitor.learner.as_ref().map(|(id, _)| id.to_string()),
            instructor: visitor.instructor,
            csrf: visitor.csrf.clone(),
            search_query: String::new(),
        }
    }
}

fn toc(state: &CourseState) -> Arc<Vec<TocPart>> {
    let mut parts: Vec<TocPart> = Vec::new();
    for lesson in &state.inner.course.lessons {
        let entry = TocEntry {
            title: lesson.chapter.title.clone(),
            slug: lesson.chapter.slug().to_string(),
        };
        match parts.last_mut() {
            Some(part) if part.title == lesson.chapter.part => part.entries.push(entry),
            _ => parts.push(TocPart {
                title: lesson.chapter.part.clone(),
                entries: vec![entry],
            }),
        }
    }
    Arc::new(parts)
}
