//! A release version as `dojo deploy` accepts it: `MAJOR.MINOR.PATCH`, optionally with a
//! pre-release tag (`1.4.0`, `2.0.0-rc.1`). It ends up in `service.version` of every span the
//! new release sends, so it is checked before anything runs.

use std::fmt;

/// The longest version accepted.
const MAX_LEN: usize = 64;

/// A checked release version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseVersion(String);

/// Why a version was refused; the message says what a good one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{given:?} is not a release version: {why} (expected MAJOR.MINOR.PATCH, like 1.4.0 or 2.0.0-rc.1)"
)]
pub struct BadVersion {
    given: String,
    why: &'static str,
}

impl ReleaseVersion {
    /// Checks `text` (surrounding spaces are ignored).
    pub fn parse(text: &str) -> Result<ReleaseVersion, BadVersion> {
        let given = text.trim();
        let bad = |why| BadVersion {
            given: text.to_owned(),
            why,
        };
        if given.is_empty() {
            return Err(bad("it is empty"));
        }
        if given.len() > MAX_LEN {
            return Err(bad("it is too long"));
        }
        let given = given.strip_prefix('v').unwrap_or(given);
        let (core, pre) = match given.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (given, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.len() != 3 {
            return Err(bad("it needs exactly three numbers separated by dots"));
        }
        for number in &numbers {
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("each of the three parts must be a number"));
            }
            if number.len() > 1 && number.starts_with('0') {
                return Err(bad("numbers have no leading zeros"));
            }
        }
        if let Some(pre) = pre
            && (pre.is_empty()
                || pre.split('.').any(str::is_empty)
                || !pre
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        {
            return Err(bad(
                "the pre-release tag after '-' may hold only letters, digits, dots and dashes",
            ));
        }
        Ok(ReleaseVersion(given.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_versions_are_three_numbers_with_an_optional_tag() {
        for (given, expected) in [
            ("1.4.0", Some("1.4.0")),
            (" v2.0.10 ", Some("2.0.10")),
            ("2.0.0-rc.1", Some("2.0.0-rc.1")),
            ("1.4", None),
            ("1.4.0.1", None),
            ("1.x.0", None),
            ("01.4.0", None),
            ("1.4.0-", None),
            ("1.4.0-rc,service.name=evil", None),
            ("", None),
            ("latest", None),
        ] {
            let parsed = ReleaseVersion::parse(given).ok();
            assert_eq!(
                parsed.as_ref().map(ReleaseVersion::as_str),
                expected,
                "{given:?}"
            );
        }
        let error = ReleaseVersion::parse("1.4").expect_err("refused");
        assert!(error.to_string().contains("MAJOR.MINOR.PATCH"), "{error}");
    }
}
