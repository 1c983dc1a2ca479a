//! Durations written the way TraceQL and Tempo write them (`30s`, `15m`, `2h`, `500ms`), for
//! the time windows in lab specs.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span of time read from a lab spec, such as a check's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecDuration(pub Duration);

impl SpecDuration {
    /// Reads `500ms`, `30s`, `15m`, `2h` or a combination such as `1h30m`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a duration must not be empty; write it like `15m` or `30s`".into());
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!(
                    "`{text}` is not a duration: expected a number before the unit, as in `15m`"
                ));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| format!("`{text}` is not a duration: the number is too large"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let part = match unit {
                "ms" => Duration::from_millis(number),
                "s" => Duration::from_secs(number),
                "m" => Duration::from_secs(number.saturating_mul(60)),
                "h" => Duration::from_secs(number.saturating_mul(3600)),
                "" => {
                    return Err(format!(
                        "`{text}` has no unit: write `{number}s`, `{number}m` or `{number}h`"
                    ));
                }
                other => {
                    return Err(format!(
                        "`{text}` uses the unit `{other}`, which is not one of ms, s, m, h"
                    ));
                }
            };
            total = total.saturating_add(part);
        }
        Ok(SpecDuration(total))
    }
}

impl std::fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for SpecDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SpecDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SpecDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_units_and_printed_back() {
        for (text, secs, printed) in [
            ("30s", 30, "30s"),
            ("15m", 900, "15m"),
            ("2h", 7200, "2h"),
            ("1h30m", 5400, "90m"),
        ] {
            let d = SpecDuration::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d.0, Duration::from_secs(secs), "{text}");
            assert_eq!(d.to_string(), printed, "{text}");
        }
        assert_eq!(
            SpecDuration::parse("500ms").unwrap().0,
            Duration::from_millis(500)
        );
    }

    #[test]
    fn durations_without_a_unit_or_with_an_unknown_one_are_refused_with_the_fix() {
        assert!(SpecDuration::parse("15").unwrap_err().contains("`15m`"));
        assert!(SpecDuration::parse("3d").unwrap_err().contains("`d`"));
        assert!(SpecDuration::parse("").is_err());
        assert!(SpecDuration::parse("m").is_err());
    }
}
