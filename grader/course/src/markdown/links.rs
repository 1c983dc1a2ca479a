//! Pass: links between lessons are written as relative `.md` paths (so they also work when the
//! markdown is read on GitHub); on the site they become `/learn/<path>` URLs.

use pulldown_cmark::{CowStr, Event, Tag};

/// Rewrites relative `.md` link destinations, resolved against the lesson at `source_path`.
pub fn rewrite<'a>(events: Vec<Event<'a>>, source_path: &str) -> Vec<Event<'a>> {
    events
        .into_iter()
        .map(|event| match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest_url = match lesson_url(source_path, &dest_url) {
                    Some(url) => CowStr::from(url),
                    None => dest_url,
                };
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            other => other,
        })
        .collect()
}

/// The site URL of a relative link to a lesson, or `None` when the link is not one
/// (absolute, external, or not to a `.md` file).
pub fn lesson_url(source_path: &str, dest: &str) -> Option<String> {
    if dest.contains("://")
        || dest.starts_with('/')
        || dest.starts_with('#')
        || dest.starts_with("mailto:")
    {
        return None;
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (dest, None),
    };
    let path = path.strip_suffix(".md")?;
    let mut parts: Vec<&str> = source_path.split('/').collect();
    parts.pop(); // the lesson's own file name
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut url = format!("/learn/{}", parts.join("/"));
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::lesson_url;

    #[test]
    fn relative_lesson_links_resolve_against_the_current_lesson() {
        let cases = [
            (
                "tracing/sampling.md",
                "correlation.md",
                Some("/learn/tracing/correlation"),
            ),
            (
                "labs/instrument.md",
                "../tracing/propagation.md",
                Some("/learn/tracing/propagation"),
            ),
            (
                "quiz.md",
                "tracing/sampling.md#head-sampling",
                Some("/learn/tracing/sampling#head-sampling"),
            ),
            ("quiz.md", "https://example.com/a.md", None),
            ("quiz.md", "/console", None),
            ("quiz.md", "#top", None),
        ];
        for (source, dest, expected) in cases {
            assert_eq!(
                lesson_url(source, dest).as_deref(),
                expected,
                "{source} -> {dest}"
            );
        }
    }
}
