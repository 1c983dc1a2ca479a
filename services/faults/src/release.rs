//! A release version: the one parser and type for `service.version` values across the lab.
//!
//! `dojo deploy` checks the version it will put into `OTEL_RESOURCE_ATTRIBUTES`, a fault can be
//! bound to one release (`version:` in a scenario or an activation), and the grader compares the
//! release a learner names with the one that brought a regression. All three read versions
//! here, so `v1.4.0` and `1.4.0` are the same release everywhere and a version one part accepts
//! is never refused by another.
//!
//! The form is `MAJOR.MINOR.PATCH` with an optional pre-release tag (`1.4.0`, `2.0.0-rc.1`);
//! a leading `v` and surrounding spaces are allowed and dropped. Versions compare numerically
//! (`1.10.0` > `1.9.3`), and a pre-release comes before its release (`2.0.0-rc.1` < `2.0.0`;
//! two tags compare as text).

use std::cmp::Ordering;
use std::fmt;

/// The longest version accepted.
const MAX_LEN: usize = 64;
/// The most digits in one number (so it fits a `u64` with room to spare).
const MAX_DIGITS: usize = 9;

/// A checked release version. `Display` writes its canonical form (no `v`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleaseVersion {
    major: u64,
    minor: u64,
    patch: u64,
    /// The pre-release tag after `-`, if any.
    pre: Option<String>,
}

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
    /// Checks `text`.
    pub fn parse(text: &str) -> Result<ReleaseVersion, BadVersion> {
        let bad = |why| BadVersion {
            given: text.chars().take(MAX_LEN + 8).collect(),
            why,
        };
        let given = text.trim();
        if given.is_empty() {
            return Err(bad("it is empty"));
        }
        if given.len() > MAX_LEN {
            return Err(bad("it is too long"));
        }
        let given = given.strip_prefix(['v', 'V']).unwrap_or(given);
        let (core, pre) = match given.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (given, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(bad("it needs exactly three numbers separated by dots"));
        }
        let mut numbers = [0u64; 3];
        for (number, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("each of the three parts must be a number"));
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err(bad("numbers have no leading zeros"));
            }
            if part.len() > MAX_DIGITS {
                return Err(bad("a number is too large"));
            }
            *number = part.parse().map_err(|_| bad("a number is too large"))?;
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
        let [major, minor, patch] = numbers;
        Ok(ReleaseVersion {
            major,
            minor,
            patch,
            pre: pre.map(str::to_owned),
        })
    }
}

impl Ord for ReleaseVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for ReleaseVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        match &self.pre {
            Some(pre) => write!(f, "-{pre}"),
            None => Ok(()),
        }
    }
}

impl std::str::FromStr for ReleaseVersion {
    type Err = BadVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ReleaseVersion::parse(text)
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
            ("V1.10.0", Some("1.10.0")),
            ("2.0.0-rc.1", Some("2.0.0-rc.1")),
            ("0.1.0", Some("0.1.0")),
            ("1.4", None),
            ("1.4.0.1", None),
            ("1.x.0", None),
            ("1..0", None),
            ("01.4.0", None),
            ("1.4.0-", None),
            ("1.4.0-rc..1", None),
            ("1.4.0-rc,service.name=evil", None),
            ("1.4.0,service.name=evil", None),
            ("1234567890.0.0", None),
            ("", None),
            ("   ", None),
            ("latest", None),
        ] {
            let parsed = ReleaseVersion::parse(given).ok().map(|v| v.to_string());
            assert_eq!(parsed.as_deref(), expected, "{given:?}");
        }
        let error = ReleaseVersion::parse("1.4").expect_err("refused");
        assert!(error.to_string().contains("MAJOR.MINOR.PATCH"), "{error}");
        let long = "1".repeat(10_000);
        let error = ReleaseVersion::parse(&long).expect_err("refused");
        assert!(error.to_string().len() < 300, "the message stays short");
    }

    #[test]
    fn versions_compare_numerically_and_a_pre_release_comes_first() {
        let v = |t: &str| ReleaseVersion::parse(t).expect("valid");
        assert!(v("1.10.0") > v("1.9.3"));
        assert!(v("2.0.0-rc.1") < v("2.0.0"));
        assert!(v("2.0.0-rc.1") > v("1.99.99"));
        assert!(v("2.0.0-alpha") < v("2.0.0-beta"));
        assert_eq!(v("v1.4.0"), v("1.4.0"));
    }
}
