//! Run-time values and Tempo's rules for comparing and computing with them
//! (`reference/traceql.md` §6.1, §6.3, §6.4).
//!
//! The rules that surprise people live here: a missing attribute never satisfies a
//! comparison (not even `!=`), mismatched types compare false, int/float/duration compare as
//! numbers, `!=` on an array means "no element equals".

use crate::ast::{ArithOp, CmpOp, Static};
use crate::error::{Error, ErrorKind};
use crate::model::{SpanKind, StatusCode, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A value during evaluation, borrowed from the trace or the query where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// The attribute is missing.
    Nil,
    /// An event- or link-scoped field on a span that has no events / links: nothing matches it,
    /// not even `= nil` (as in Tempo).
    NoEntity,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    Str(Cow<'a, str>),
    Status(StatusCode),
    Kind(SpanKind),
    Array(&'a [Value]),
}

impl<'a> Val<'a> {
    pub fn from_value(v: &'a Value) -> Val<'a> {
        match v {
            Value::Str(s) => Val::Str(Cow::Borrowed(s)),
            Value::Int(i) => Val::Int(*i),
            Value::Float(f) => Val::Float(*f),
            Value::Bool(b) => Val::Bool(*b),
            Value::Array(a) => Val::Array(a),
        }
    }

    pub fn from_static(s: &'a Static) -> Val<'a> {
        match s {
            Static::Nil => Val::Nil,
            Static::Bool(b) => Val::Bool(*b),
            Static::Int(i) => Val::Int(*i),
            Static::Float(f) => Val::Float(*f),
            Static::Duration(d) => Val::Duration(*d),
            Static::Str(s) => Val::Str(Cow::Borrowed(s)),
            Static::Status(s) => Val::Status(*s),
            Static::Kind(k) => Val::Kind(*k),
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, Val::Nil | Val::NoEntity)
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(v) | Val::Duration(v) => Some(*v as f64),
            Val::Float(v) => Some(*v),
            _ => None,
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Val::Int(_) | Val::Float(_) | Val::Duration(_))
    }

    /// The value as an attribute of a result (Tempo shows durations as Go duration strings,
    /// statuses and kinds as their names).
    pub fn to_value(&self) -> Value {
        match self {
            Val::Nil | Val::NoEntity => Value::str("nil"),
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::Int(*i),
            Val::Float(f) => Value::Float(*f),
            Val::Duration(d) => Value::str(go_duration(*d)),
            Val::Str(s) => Value::str(s.as_ref()),
            Val::Status(s) => Value::str(s.traceql_name()),
            Val::Kind(k) => Value::str(k.traceql_name()),
            Val::Array(a) => Value::Array(a.to_vec().into()),
        }
    }

    /// The value as a literal (arrays as their text), for callers outside the evaluator.
    pub fn to_static(&self) -> Option<Static> {
        Some(match self {
            Val::Nil | Val::NoEntity => return None,
            Val::Bool(b) => Static::Bool(*b),
            Val::Int(i) => Static::Int(*i),
            Val::Float(f) => Static::Float(*f),
            Val::Duration(d) => Static::Duration(*d),
            Val::Str(s) => Static::Str(s.to_string()),
            Val::Status(s) => Static::Status(*s),
            Val::Kind(k) => Static::Kind(*k),
            Val::Array(a) => Static::Str(format!("{a:?}")),
        })
    }
}

/// Go's `time.Duration.String()`: `1.5s`, `2ms`, `1h2m3s`, `0s`.
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let neg = nanos < 0;
    let n = (nanos as i128).unsigned_abs();
    let body = if n < 1_000 {
        format!("{n}ns")
    } else if n < 1_000_000 {
        format!("{}µs", decimal(n, 1_000))
    } else if n < 1_000_000_000 {
        format!("{}ms", decimal(n, 1_000_000))
    } else {
        let hours = n / 3_600_000_000_000;
        let minutes = (n / 60_000_000_000) % 60;
        let secs = decimal(n % 60_000_000_000, 1_000_000_000);
        if hours > 0 {
            format!("{hours}h{minutes}m{secs}s")
        } else if minutes > 0 {
            format!("{minutes}m{secs}s")
        } else {
            format!("{secs}s")
        }
    };
    if neg { format!("-{body}") } else { body }
}

fn decimal(n: u128, unit: u128) -> String {
    let whole = n / unit;
    let frac = n % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn ordering_satisfies(op: CmpOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Neq => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Lte => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Gte => ord != Ordering::Less,
    }
}

/// `l OP r` with Tempo's semantics. Missing values and mismatched types are `false` for every
/// operator, including `!=`.
pub fn compare(op: CmpOp, l: &Val<'_>, r: &Val<'_>) -> bool {
    match (l, r) {
        (Val::Nil | Val::NoEntity, _) | (_, Val::Nil | Val::NoEntity) => false,
        (Val::Array(_), Val::Array(_)) => false,
        (Val::Array(items), other) => compare_array(op, items, other),
        (other, Val::Array(items)) => compare_array(op.flipped(), items, other),
        (Val::Int(a), Val::Int(b)) | (Val::Duration(a), Val::Duration(b)) => {
            ordering_satisfies(op, Some(a.cmp(b)))
        }
        (Val::Int(a), Val::Duration(b)) | (Val::Duration(a), Val::Int(b)) => {
            ordering_satisfies(op, Some(a.cmp(b)))
        }
        (a, b) if a.is_numeric() && b.is_numeric() => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            ordering_satisfies(op, x.partial_cmp(&y))
        }
        (Val::Str(a), Val::Str(b)) => ordering_satisfies(op, Some(a.as_bytes().cmp(b.as_bytes()))),
        (Val::Bool(a), Val::Bool(b)) if matches!(op, CmpOp::Eq | CmpOp::Neq) => {
            ordering_satisfies(op, Some(a.cmp(b)))
        }
        (Val::Status(a), Val::Status(b)) if matches!(op, CmpOp::Eq | CmpOp::Neq) => {
            (a == b) == (op == CmpOp::Eq)
        }
        (Val::Kind(a), Val::Kind(b)) if matches!(op, CmpOp::Eq | CmpOp::Neq) => {
            (a == b) == (op == CmpOp::Eq)
        }
        _ => false,
    }
}

/// An array attribute against a single value: any element for `=`, `<`, …; no element for `!=`.
fn compare_array(op: CmpOp, items: &[Value], other: &Val<'_>) -> bool {
    if op == CmpOp::Neq {
        !items
            .iter()
            .any(|item| compare(CmpOp::Eq, &Val::from_value(item), other))
    } else {
        items
            .iter()
            .any(|item| compare(op, &Val::from_value(item), other))
    }
}

/// `=~` (`negated = false`) or `!~` against a compiled, anchored regex.
pub fn regex_match(re: &regex::Regex, negated: bool, v: &Val<'_>) -> bool {
    match v {
        Val::Str(s) => re.is_match(s) != negated,
        Val::Array(items) => {
            let any = items
                .iter()
                .any(|item| matches!(item, Value::Str(s) if re.is_match(s)));
            if negated { !any } else { any }
        }
        _ => false,
    }
}

/// Arithmetic: int∘int stays int (wrapping, `/` truncates), any other numeric mix is float.
/// Integer division or remainder by zero is an error, as in Tempo. Anything non-numeric
/// (missing attributes, strings, arrays) gives a missing value, which matches nothing.
pub fn arithmetic<'a>(op: ArithOp, l: &Val<'_>, r: &Val<'_>) -> Result<Val<'a>, Error> {
    if let (Val::Int(a), Val::Int(b)) = (l, r) {
        let (a, b) = (*a, *b);
        return Ok(Val::Int(match op {
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div | ArithOp::Mod if b == 0 => {
                return Err(Error::new(
                    ErrorKind::Runtime,
                    0..0,
                    "integer division by zero",
                ));
            }
            ArithOp::Div => a.wrapping_div(b),
            ArithOp::Mod => a.wrapping_rem(b),
            ArithOp::Pow => int_pow(a, b),
        }));
    }
    let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
        return Ok(
            if matches!(l, Val::NoEntity) || matches!(r, Val::NoEntity) {
                Val::NoEntity
            } else {
                Val::Nil
            },
        );
    };
    Ok(Val::Float(match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => a / b,
        ArithOp::Mod => a % b,
        ArithOp::Pow => a.powf(b),
    }))
}

/// `base ^ exp` on integers. Unlike Tempo (which computes `exp ^ base`, see
/// `reference/traceql.md` §6.4), this computes what the query says.
fn int_pow(base: i64, exp: i64) -> i64 {
    if exp < 0 {
        return match base {
            1 => 1,
            -1 if exp % 2 == 0 => 1,
            -1 => -1,
            _ => 0,
        };
    }
    base.wrapping_pow(u32::try_from(exp).unwrap_or(u32::MAX))
}

/// Unary minus on numbers; anything else is missing.
pub fn negate<'a>(v: &Val<'_>) -> Val<'a> {
    match v {
        Val::Int(i) => Val::Int(i.wrapping_neg()),
        Val::Float(f) => Val::Float(-f),
        Val::Duration(d) => Val::Duration(d.wrapping_neg()),
        Val::NoEntity => Val::NoEntity,
        _ => Val::Nil,
    }
}

/// Numeric ordering across int, float and duration (for min/max).
pub fn numeric_cmp(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x) | Val::Duration(x), Val::Int(y) | Val::Duration(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_value_satisfies_no_comparison_not_even_not_equal() {
        for op in [CmpOp::Eq, CmpOp::Neq, CmpOp::Lt, CmpOp::Gt] {
            assert!(!compare(op, &Val::Nil, &Val::Int(1)), "{op:?}");
        }
    }

    #[test]
    fn numbers_compare_across_int_float_and_duration() {
        assert!(compare(CmpOp::Eq, &Val::Int(1), &Val::Float(1.0)));
        assert!(compare(
            CmpOp::Eq,
            &Val::Int(1_000_000_000),
            &Val::Duration(1_000_000_000)
        ));
        assert!(compare(CmpOp::Gt, &Val::Duration(2), &Val::Int(1)));
        assert!(!compare(
            CmpOp::Neq,
            &Val::Str("500".into()),
            &Val::Int(500)
        ));
    }

    #[test]
    fn arrays_match_any_element_and_not_equal_means_no_element() {
        let items = [Value::Int(1), Value::Int(5)];
        let arr = Val::Array(&items);
        assert!(compare(CmpOp::Eq, &arr, &Val::Int(5)));
        assert!(!compare(CmpOp::Neq, &arr, &Val::Int(5)));
        assert!(compare(CmpOp::Neq, &arr, &Val::Int(7)));
        assert!(
            compare(CmpOp::Lt, &Val::Int(3), &arr),
            "3 < [1, 5] because 5 > 3"
        );
        assert!(compare(CmpOp::Neq, &Val::Array(&[]), &Val::Int(7)));
        assert!(!compare(CmpOp::Eq, &Val::Array(&[]), &Val::Int(7)));
    }

    #[test]
    fn integer_arithmetic_truncates_and_division_by_zero_is_an_error() {
        assert_eq!(
            arithmetic(ArithOp::Div, &Val::Int(1), &Val::Int(2)).unwrap(),
            Val::Int(0)
        );
        assert_eq!(
            arithmetic(ArithOp::Pow, &Val::Int(2), &Val::Int(3)).unwrap(),
            Val::Int(8)
        );
        assert!(arithmetic(ArithOp::Mod, &Val::Int(1), &Val::Int(0)).is_err());
        assert_eq!(
            arithmetic(ArithOp::Div, &Val::Float(1.0), &Val::Int(0)).unwrap(),
            Val::Float(f64::INFINITY)
        );
        assert_eq!(
            arithmetic(ArithOp::Mul, &Val::Int(1), &Val::Duration(3)).unwrap(),
            Val::Float(3.0)
        );
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(2_000_000), "2ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(-7), "-7ns");
    }
}
