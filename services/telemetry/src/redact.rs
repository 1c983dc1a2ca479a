//! The last line of defence against secrets in telemetry: field names that smell of
//! credentials are masked, and values that look like card numbers or bearer tokens are masked.
//!
//! The services never put such values in spans or logs on purpose; this module makes a mistake
//! in a later change (or in a learner's lab code) harmless, and the tests prove it.

use std::borrow::Cow;

/// What a masked value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// True for field and attribute names that carry credentials or payment data.
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "password",
        "passwd",
        "secret",
        "token",
        "card",
        "cvv",
        "api_key",
        "apikey",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The value with anything that looks like a card number or a bearer token masked.
pub fn redact_value(value: &str) -> Cow<'_, str> {
    let lower = value.to_ascii_lowercase();
    if lower.contains("bearer ") || lower.contains("basic ") {
        return Cow::Borrowed(REDACTED);
    }
    if !contains_card_number(value) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(mask_card_numbers(value))
}

/// The value with every card-number-like digit run masked, and nothing else changed: what the
/// trace store applies to every string it receives, where a whole-value rule such as the
/// bearer one above would be too broad.
pub fn redact_card_numbers(value: &str) -> Cow<'_, str> {
    if !contains_card_number(value) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(mask_card_numbers(value))
}

/// A run of 13 to 19 digits (spaces and dashes allowed between them) that passes the Luhn check.
fn contains_card_number(value: &str) -> bool {
    // Most values (names, routes, ids) have too few digits to hold one: answer without
    // looking for runs.
    if value.len() < 13 || value.bytes().filter(u8::is_ascii_digit).nth(12).is_none() {
        return false;
    }
    digit_runs(value)
        .into_iter()
        .any(|(start, end)| looks_like_card(&value[start..end]))
}

/// True for an integer attribute that could be a card number (a product id typed by a
/// client, say): what [`redact_card_numbers`] would mask in its decimal text.
pub fn is_card_number_int(value: i64) -> bool {
    // Ports, status codes, counts and ids have fewer than 13 digits: no text needed.
    let magnitude = value.unsigned_abs();
    magnitude >= 1_000_000_000_000 && looks_like_card(&magnitude.to_string())
}

/// A card number in a value: 13 to 19 digits, Luhn-valid, and starting as payment cards do
/// (2 to 6: the card networks' issuer ranges). The first-digit rule keeps epoch timestamps in
/// milliseconds or nanoseconds (which start with 1) from being masked one time in ten.
fn looks_like_card(run: &str) -> bool {
    run.bytes()
        .find(u8::is_ascii_digit)
        .is_some_and(|first| (b'2'..=b'6').contains(&first))
        && is_card(run)
}

fn mask_card_numbers(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for (start, end) in digit_runs(value) {
        if looks_like_card(&value[start..end]) {
            out.push_str(&value[last..start]);
            out.push_str(REDACTED);
            last = end;
        }
    }
    out.push_str(&value[last..]);
    out
}

/// Byte ranges of digit runs, where single spaces or dashes may separate digits.
fn digit_runs(value: &str) -> Vec<(usize, usize)> {
    let bytes = value.as_bytes();
    let mut runs = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii_digit() {
            index += 1;
            continue;
        }
        let start = index;
        let mut end = index;
        while index < bytes.len() {
            if bytes[index].is_ascii_digit() {
                index += 1;
                end = index;
            } else if (bytes[index] == b' ' || bytes[index] == b'-')
                && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
            {
                index += 1;
            } else {
                break;
            }
        }
        runs.push((start, end));
    }
    runs
}

fn is_card(run: &str) -> bool {
    let digits: Vec<u32> = run.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| {
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// True when `number` passes the Luhn check used by card numbers (for validating input).
pub fn passes_luhn(number: &str) -> bool {
    number
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        && is_card(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_wherever_they_appear() {
        let cases = [
            ("4111111111111111", "[redacted]"),
            (
                "paid with 4111 1111 1111 1111 today",
                "paid with [redacted] today",
            ),
            ("card 5555-5555-5555-4444", "card [redacted]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_value(input), expected, "input: {input}");
        }
    }

    #[test]
    fn ordinary_numbers_and_ids_are_left_alone() {
        for input in [
            "order 42",
            "1234567890123",
            "trace 4bf92f3577b34da6a3ce929d0e0e4736",
            "42 items",
        ] {
            assert_eq!(redact_value(input), input, "input: {input}");
        }
    }

    #[test]
    fn card_numbers_in_urls_are_masked_and_the_rest_kept() {
        let cases = [
            ("/products/4111111111111111", "/products/[redacted]"),
            (
                "http://127.0.0.1:8082/products/4111-1111-1111-1111?x=1",
                "http://127.0.0.1:8082/products/[redacted]?x=1",
            ),
            ("/products/4111111111111112", "/products/4111111111111112"),
            ("basic plan", "basic plan"),
            ("at 1733580000000000017", "at 1733580000000000017"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_card_numbers(input), expected, "input: {input}");
        }
    }

    #[test]
    fn integers_that_could_be_card_numbers_are_recognised() {
        assert!(is_card_number_int(4111111111111111));
        assert!(!is_card_number_int(4111111111111112), "fails Luhn");
        assert!(!is_card_number_int(42));
        assert!(
            !is_card_number_int(1733580000000000017),
            "a nanosecond timestamp"
        );
    }

    #[test]
    fn bearer_tokens_are_masked_whole() {
        assert_eq!(redact_value("Bearer abc.def"), REDACTED);
    }

    #[test]
    fn credential_names_are_sensitive_and_business_names_are_not() {
        for key in [
            "authorization",
            "http.request.header.cookie",
            "user.password",
            "card_number",
            "DOJO_ADMIN_TOKEN",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in ["order.id", "user.id", "cart.items", "http.route"] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }
}
