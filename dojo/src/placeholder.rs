//! Refusing placeholder secrets at start.
//!
//! The deployment examples ship values such as `change-me-admin-token` so that the files are
//! complete; a lab deployed with one of them unchanged lets anyone who has read this repository
//! open the instructor pages or switch faults on. `dojo serve` and `dojo service` — the roles
//! compose and Kubernetes run — check their tokens before they listen and stop with a message
//! that says how to make a real one (exit status 2, like every other start-up error). `dojo up`,
//! the embedded default on one laptop, does not check.

/// Words that mark a value as "fill me in", compared without case and punctuation.
const MARKERS: &[&str] = &[
    "changeme",
    "replaceme",
    "placeholder",
    "yourtoken",
    "yoursecret",
];

/// Is `value` a placeholder rather than a real secret? It is when one of its words, or two
/// neighbouring words together, is a marker: `change-me-…`, `changeMe…`, `CHANGE_ME`, `<your-token>`
/// (and not `exchange-mentor`).
pub fn is_placeholder(value: &str) -> bool {
    let words = words(value);
    let single = words.iter().cloned();
    let pairs = words.windows(2).map(|pair| pair.concat());
    single
        .chain(pairs)
        .any(|candidate| MARKERS.contains(&candidate.as_str()))
}

/// The lower-cased words of `value`: split at punctuation and at lower-to-upper case changes.
fn words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in value.chars() {
        let boundary = !c.is_ascii_alphanumeric() || (previous_lower && c.is_ascii_uppercase());
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        if c.is_ascii_alphanumeric() {
            current.push(c.to_ascii_lowercase());
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Fails when a secret, given as `(variable name, value)`, is a placeholder. The value itself is
/// never printed: if the check misfired on a real secret, the message must not leak it.
pub fn refuse(secrets: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    let placeholders: Vec<&str> = secrets
        .iter()
        .filter(|(_, value)| value.is_some_and(is_placeholder))
        .map(|(name, _)| *name)
        .collect();
    if placeholders.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{} still {} the example's placeholder value (\"change-me-…\"), so anyone who has read \
         the repository could use it. Set a real secret before starting: on Kubernetes run \
         k8s/make-secrets.sh (it writes random values into the git-ignored secrets.env files); \
         with compose put your own values in compose/.env (for example `openssl rand -hex 24`).",
        placeholders.join(" and "),
        if placeholders.len() == 1 {
            "has"
        } else {
            "have"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_placeholders_are_recognised_whatever_their_spelling() {
        for value in [
            "change-me-admin-token",
            "changeMePostgresPassword",
            "CHANGE_ME",
            "replace-me",
            "<your-token>",
            "placeholder",
        ] {
            assert!(is_placeholder(value), "{value:?} is a placeholder");
        }
    }

    #[test]
    fn real_and_local_tokens_are_accepted() {
        for value in [
            "3f9c2b7e0a41d8c6b5e2f7a9c0d4e1b8a6f3c2d1e0b9a8f7",
            "local-admin-token",
            "exchange-mentor",
        ] {
            assert!(!is_placeholder(value), "{value:?} is not a placeholder");
        }
    }

    #[test]
    fn the_refusal_names_the_variable_and_not_the_value() {
        let error = refuse(&[
            ("DOJO_INSTRUCTOR_TOKEN", Some("good-token-1234")),
            ("DOJO_ADMIN_TOKEN", Some("change-me-admin-token")),
            ("TEMPO_URL", None),
        ])
        .expect_err("a placeholder is refused");
        let message = error.to_string();
        assert!(
            message.starts_with("DOJO_ADMIN_TOKEN still has"),
            "{message}"
        );
        assert!(!message.contains("DOJO_INSTRUCTOR_TOKEN"), "{message}");
        assert!(!message.contains("change-me-admin-token"), "{message}");
        assert!(refuse(&[("DOJO_ADMIN_TOKEN", Some("s3cr3t-r4nd0m"))]).is_ok());
    }
}
