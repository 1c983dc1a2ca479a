//! Who a learner is: a checked id, safe to carry in W3C baggage and URLs.

use serde::{Deserialize, Serialize};

/// A learner's id. It travels in the `learner.id` baggage entry and in span attributes, so it
/// is restricted to characters that need no escaping there: ASCII letters, digits, `.`, `_`
/// and `-`, 1 to 64 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LearnerId(String);

/// Why a text is not a learner id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnerIdError {
    #[error("a learner id must not be empty")]
    Empty,
    #[error("a learner id is at most 64 characters; this one has {0}")]
    TooLong(usize),
    #[error("a learner id may only use letters, digits, '.', '_' and '-'; found {0:?}")]
    BadChar(char),
}

impl LearnerId {
    pub fn parse(text: &str) -> Result<Self, LearnerIdError> {
        if text.is_empty() {
            return Err(LearnerIdError::Empty);
        }
        if text.len() > 64 {
            return Err(LearnerIdError::TooLong(text.len()));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(LearnerIdError::BadChar(bad));
        }
        Ok(LearnerId(text.to_string()))
    }

    /// The learner id for a display name — the one derivation `dojo up --learner`, `dojo grade
    /// --learner` and the course's join form all use, so one person has one id (and so one
    /// scenario variant) everywhere. A readable slug plus a hash of the exact name: "Ada" and
    /// "ada" are two learners, and non-ASCII names still get a distinct id.
    pub fn for_name(name: &str) -> LearnerId {
        let mut slug = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
            if slug.len() >= 40 {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        // FNV-1a: stable across runs and platforms, which the standard hasher is not.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let short = format!("{:08x}", hash as u32);
        // At most 40 slug characters, a dash and 8 hex digits: always a valid id.
        LearnerId(if slug.is_empty() {
            format!("learner-{short}")
        } else {
            format!("{slug}-{short}")
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LearnerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LearnerId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LearnerId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for LearnerId {
    type Err = LearnerIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LearnerId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_ids_accept_baggage_safe_names_and_refuse_the_rest() {
        assert!(LearnerId::parse("ada-lovelace_1.2").is_ok());
        assert_eq!(LearnerId::parse(""), Err(LearnerIdError::Empty));
        assert_eq!(LearnerId::parse("a b"), Err(LearnerIdError::BadChar(' ')));
        assert_eq!(LearnerId::parse("a,b"), Err(LearnerIdError::BadChar(',')));
        assert_eq!(
            LearnerId::parse(&"x".repeat(65)),
            Err(LearnerIdError::TooLong(65))
        );
    }

    #[test]
    fn ids_for_names_are_readable_stable_distinct_and_valid() {
        let ada = LearnerId::for_name("Ada Lovelace");
        assert!(ada.as_str().starts_with("ada-lovelace-"), "{ada}");
        assert_eq!(ada, LearnerId::for_name("Ada Lovelace"));
        assert_ne!(LearnerId::for_name("Zoë"), LearnerId::for_name("Zoe"));
        assert_ne!(LearnerId::for_name("Ada"), LearnerId::for_name("ada"));
        assert!(LearnerId::for_name("李雷").as_str().starts_with("learner-"));
        for name in ["Ada Lovelace", "李雷", "a!!b", "", &"x".repeat(200)] {
            let id = LearnerId::for_name(name);
            assert!(
                LearnerId::parse(id.as_str()).is_ok(),
                "{id} is not a valid learner id"
            );
        }
    }
}
