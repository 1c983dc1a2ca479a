//! A duration typed by a person, read kindly: `3h 20m`, `3 h 20 min`, `200 min`, `12000 s`,
//! `3.3 hours`, `1 day 2 hours`, `3 hours and 20 minutes`, `3:20` (hours and minutes) or
//! `3:20:05`. What cannot be read is an [`AnswerError`] that says what was wrong and how to
//! write it, never a guess: a bare number (`200`) is refused, since 200 seconds and 200
//! minutes are different answers.

use std::fmt;

/// Why an answer is not a duration, in words for the learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    Empty,
    /// A number without a unit.
    NoUnit(String),
    /// A word that is not a unit of time (`3 parsecs`).
    UnknownUnit(String),
    /// Text where a number was expected (`about three hours`).
    NotANumber(String),
    /// Less than nothing, or too large to be a lead time.
    OutOfRange,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Empty => {
                f.write_str("The answer is empty: write a duration such as `3h 20m`.")
            }
            AnswerError::NoUnit(number) => write!(
                f,
                "`{number}` has no unit: is it `{number} min`, `{number} s` or `{number} h`? \
                 Write the unit after the number."
            ),
            AnswerError::UnknownUnit(word) => write!(
                f,
                "`{word}` is not a unit of time I know: use s, min, h or d (or seconds, \
                 minutes, hours, days)."
            ),
            AnswerError::NotANumber(text) => write!(
                f,
                "`{text}` is not a number: write the duration in digits, such as `3h 20m`, \
                 `200 min` or `3.3 hours`."
            ),
            AnswerError::OutOfRange => f.write_str(
                "That duration is negative or longer than a year: write how long the change \
                 took, such as `3h 20m`.",
            ),
        }
    }
}

/// The longest duration accepted (a year), so arithmetic on it never overflows.
const MAX_SECONDS: f64 = 366.0 * 24.0 * 3600.0;

/// Seconds in one unit, by the names people write.
fn unit_seconds(word: &str) -> Option<f64> {
    Some(match word.to_ascii_lowercase().trim_end_matches('.') {
        "ms" | "msec" | "millisecond" | "milliseconds" => 0.001,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        _ => return None,
    })
}

/// Reads a duration, in seconds.
pub fn parse_duration(text: &str) -> Result<f64, AnswerError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AnswerError::Empty);
    }
    if text.starts_with('-') {
        return Err(AnswerError::OutOfRange);
    }
    if text.contains(':') {
        return clock(text);
    }
    let tokens = tokens(text);
    let mut total = 0.0;
    let mut pending: Option<(String, f64)> = None;
    for token in tokens {
        match token {
            Token::Number(raw) => {
                if let Some((number, _)) = pending.take() {
                    return Err(AnswerError::NoUnit(number));
                }
                let value: f64 = number_text(&raw)
                    .parse()
                    .map_err(|_| AnswerError::NotANumber(raw.clone()))?;
                pending = Some((raw, value));
            }
            Token::Word(word) => {
                if matches!(
                    word.to_ascii_lowercase().as_str(),
                    "and" | "about" | "approx"
                ) {
                    continue;
                }
                let Some(seconds) = unit_seconds(&word) else {
                    return Err(match pending {
                        Some(_) => AnswerError::UnknownUnit(word),
                        None => AnswerError::NotANumber(text.to_string()),
                    });
                };
                let Some((_, value)) = pending.take() else {
                    return Err(AnswerError::NotANumber(text.to_string()));
                };
                total += value * seconds;
            }
        }
    }
    if let Some((number, _)) = pending {
        return Err(AnswerError::NoUnit(number));
    }
    in_range(total)
}

/// A number as Rust reads it: a comma before exactly three digits groups thousands
/// (`12,000`), any other comma is a decimal point (`3,5`).
fn number_text(raw: &str) -> String {
    let mut parts = raw.split(',');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        first.to_string()
    } else if rest.iter().all(|p| p.len() == 3 && !p.contains('.')) {
        std::iter::once(first).chain(rest).collect()
    } else {
        raw.replace(',', ".")
    }
}

fn in_range(seconds: f64) -> Result<f64, AnswerError> {
    if seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(AnswerError::OutOfRange)
    }
}

/// `3:20` (hours and minutes) or `3:20:05`.
fn clock(text: &str) -> Result<f64, AnswerError> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(AnswerError::NotANumber(text.to_string()));
    }
    let mut seconds = 0.0;
    for (part, scale) in parts.iter().zip([3600.0, 60.0, 1.0]) {
        let value: f64 = part
            .parse()
            .map_err(|_| AnswerError::NotANumber(text.to_string()))?;
        seconds += value * scale;
    }
    in_range(seconds)
}

enum Token {
    Number(String),
    Word(String),
}

/// Numbers (digits with one point or comma) and words; spaces and commas between parts are
/// separators.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || ((chars[i] == '.' || chars[i] == ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else if c.is_whitespace() || c == ',' || c == '+' {
            i += 1;
        } else {
            // Anything else (`~`, `≈`, `%`) makes a word of its own, which is refused.
            out.push(Token::Word(c.to_string()));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_in_the_ways_people_write_them() {
        let cases = [
            ("3h 20m", 12_000.0),
            ("3h20m", 12_000.0),
            ("3 h 20 min", 12_000.0),
            ("3 hours and 20 minutes", 12_000.0),
            ("3 hours, 20 minutes", 12_000.0),
            ("200 min", 12_000.0),
            ("200min", 12_000.0),
            ("12000 s", 12_000.0),
            ("12000 seconds", 12_000.0),
            ("12,000 s", 12_000.0),
            ("3.5 hours", 12_600.0),
            ("3,5 h", 12_600.0),
            ("1 day 2 hours", 93_600.0),
            ("3:20", 12_000.0),
            ("3:20:30", 12_030.0),
            ("  45 Min. ", 2_700.0),
            ("1h 0m 30s", 3_630.0),
        ];
        for (text, seconds) in cases {
            assert_eq!(parse_duration(text), Ok(seconds), "{text:?}");
        }
    }

    #[test]
    fn what_is_not_a_duration_is_told_why() {
        let cases = [
            ("", AnswerError::Empty),
            ("   ", AnswerError::Empty),
            ("200", AnswerError::NoUnit("200".into())),
            ("3h 20", AnswerError::NoUnit("20".into())),
            ("3 parsecs", AnswerError::UnknownUnit("parsecs".into())),
            ("three hours", AnswerError::NotANumber("three hours".into())),
            ("hours", AnswerError::NotANumber("hours".into())),
            ("-3h", AnswerError::OutOfRange),
            ("400 days", AnswerError::OutOfRange),
            ("3:xx", AnswerError::NotANumber("3:xx".into())),
            ("~3h", AnswerError::NotANumber("~3h".into())),
        ];
        for (text, error) in cases {
            assert_eq!(parse_duration(text), Err(error), "{text:?}");
        }
        // Every message tells the learner how to write it.
        assert!(
            AnswerError::NoUnit("200".into())
                .to_string()
                .contains("200 min")
        );
    }
}
