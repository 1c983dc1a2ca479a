//! What a load run does: target, pace, size and identity.

use std::time::Duration;

use dojo_defaults::FRONTEND_PORT;

/// Settings of one load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL of the frontend.
    pub target: String,
    /// Base URL of the api, for the mobile app's visits ([`crate::app`]); none without it.
    pub api_target: Option<String>,
    /// Journeys started per second; `None` runs them back to back (as fast as allowed).
    pub rate: Option<f64>,
    /// Most journeys in flight at once.
    pub concurrency: usize,
    /// Stop after this long; `None` runs until stopped.
    pub duration: Option<Duration>,
    /// The learner whose traffic this is (`learner.id` baggage).
    pub learner: Option<String>,
    /// Print a progress line every second (to stderr).
    pub progress: bool,
    /// Seed for product choice and card choice, so runs can be repeated.
    pub seed: u64,
}

impl Default for LoadConfig {
    fn default() -> LoadConfig {
        LoadConfig {
            target: format!("http://127.0.0.1:{FRONTEND_PORT}"),
            api_target: None,
            rate: Some(2.0),
            concurrency: 8,
            duration: None,
            learner: None,
            progress: true,
            seed: 1,
        }
    }
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write it like 500ms, 30s, 2m or 1h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit {unit:?}; use ms, s, m or h"
            ));
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_in_common_units() {
        let cases = [
            ("500ms", 500),
            ("30s", 30_000),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("5", 5000),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for text in ["soon", "10 parsecs", "0s", "-5s"] {
            let error = parse_duration(text).expect_err(text);
            assert!(error.contains(text.trim()), "{text}: {error}");
        }
    }
}
