//! The two secrets the course holds, each a type that never prints itself: the instructor's
//! token ([`Secret`]) and a learner's claim on their name ([`LearnerKey`]). Below the session
//! table, the state and the backends, which all pass them around.

use std::fmt;

use rand::RngCore;

/// The letters of a key: no I, L, O or U, so a code read aloud or copied by hand survives.
const KEY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a key: 12 × 5 bits = 60 random bits, typed as `ABCD-EFGH-JKMN`.
const KEY_LENGTH: usize = 12;

/// A secret that never prints (the instructor token).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with a candidate in constant time (for equal lengths).
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        !a.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The secret that holds a learner's claim on their name. Never logged: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct LearnerKey(String);

impl LearnerKey {
    /// A new random key.
    pub fn generate() -> LearnerKey {
        let mut bytes = [0u8; KEY_LENGTH];
        rand::rng().fill_bytes(&mut bytes);
        LearnerKey(
            bytes
                .iter()
                .map(|b| char::from(KEY_ALPHABET[usize::from(b % 32)]))
                .collect(),
        )
    }

    /// Reads a key as a learner may type it (any case, with dashes or spaces), or as the
    /// cookie carries it; `None` when it cannot be a key.
    pub fn parse(text: &str) -> Option<LearnerKey> {
        let key: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (key.len() == KEY_LENGTH && key.bytes().all(|b| KEY_ALPHABET.contains(&b)))
            .then_some(LearnerKey(key))
    }

    /// The key as the learner reads it: `ABCD-EFGH-JKMN`.
    pub fn rejoin_code(&self) -> String {
        format!("{}-{}-{}", &self.0[0..4], &self.0[4..8], &self.0[8..12])
    }

    /// The key as the learner cookie carries it (never logged).
    pub(crate) fn cookie_value(&self) -> &str {
        &self.0
    }

    /// What the progress store keeps: the key's SHA-256, hex.
    pub fn hash(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for LearnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LearnerKey([redacted])")
    }
}
