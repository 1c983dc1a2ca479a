//! The note a lesson's TraceQL example gets when the healthy shop gives it nothing to find:
//! which fault to switch on (from the example's `returns with=…` marker), what it does, and
//! the commands that switch it on and off on the running shop. The content layer adds it
//! through [`crate::markdown::RenderContext::code_notes`], so the markdown renderer and its
//! highlighter know nothing of faults, markers or shop addresses.

use super::marker::{Claim, parse_marker};
use super::shop_address_placeholder;
use crate::markdown::escape;

/// The notes after a code block: for a TraceQL example that needs a fault, which one and how
/// to switch it; nothing otherwise (and nothing for a secret example, whose fault is the
/// exercise's answer).
pub fn code_notes(info: &str, _code: &str) -> String {
    if info.split([' ', ',']).next() != Some("traceql") {
        return String::new();
    }
    let mut html = String::new();
    let Ok(marker) = parse_marker(info) else {
        return html;
    };
    let faults = marker.returns.map(|state| state.faults).unwrap_or_default();
    if marker.secret || faults.is_empty() || marker.claim == Claim::FindsNothing {
        return html;
    }
    for setting in &faults {
        let Some(spec) = dojo_faults::FaultId::parse(&setting.id).map(|id| id.spec()) else {
            continue;
        };
        // The service's address is filled in when the page is served, from the running lab.
        let url = format!(
            "{}/admin/faults/{}",
            shop_address_placeholder(spec.service.as_str()),
            setting.id
        );
        let (with, body) = if setting.params.is_empty() {
            (String::new(), String::new())
        } else {
            let params: Vec<String> = setting
                .params
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            (
                format!(" with {}", params.join(", ")),
                format!(" -d '{}'", setting.activation_body()),
            )
        };
        html.push_str(&format!(
            "<p class=\"needs-fault\">The healthy shop gives this query nothing to find: it finds \
             traces while the fault <code>{id}</code>{with} is on. {summary} Switch it on with \
             <code>curl -X POST {url}{body}</code> and off with <code>curl -X DELETE {url}</code>, \
             or on the instructor page.</p>",
            id = escape(&setting.id),
            with = escape(&with),
            summary = escape(spec.summary),
            url = escape(&url),
            body = escape(&body),
        ));
    }
    html
}

#[cfg(test)]
mod tests {
    use crate::markdown::{RenderContext, render};

    fn notes_after(info: &str, code: &str) -> String {
        let markdown = format!("```{info}\n{code}\n```\n");
        let context = RenderContext {
            code_notes: Some(super::code_notes),
            ..RenderContext::default()
        };
        render(&markdown, &context).html
    }

    #[test]
    fn a_block_that_needs_a_fault_says_which_unless_it_is_secret() {
        let html = notes_after(
            "traceql returns with=payments_failing:mode=error",
            "{ status = error }\n",
        );
        assert!(html.contains("class=\"needs-fault\""), "{html}");
        assert!(
            html.contains(
                "curl -X POST dojo-shop-address:payments/admin/faults/payments_failing -d &#39;{&quot;params&quot;:{&quot;mode&quot;:&quot;error&quot;}}&#39;"
            ),
            "{html}"
        );
        assert!(
            html.contains("<code>payments_failing</code> with mode=error is on"),
            "{html}"
        );
        let secret = notes_after(
            "traceql returns with=slow_query secret",
            "{ status = error }",
        );
        assert!(!secret.contains("slow_query"), "{secret}");
        let healthy = notes_after("traceql returns", "{ }");
        assert!(!healthy.contains("needs-fault"), "{healthy}");
    }
}
