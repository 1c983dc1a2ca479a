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
}
