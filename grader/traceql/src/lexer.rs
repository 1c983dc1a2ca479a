//! The lexer: TraceQL text → tokens, each with the byte range it came from.
//!
//! It follows Tempo's lexical rules (see `reference/traceql.md` §1, §3, §5): attribute names run
//! until whitespace or one of `{ } ( ) = ~ ! < > & | ^ ,` (so `.http.status_code` and `.a-1` are
//! single names), quoted name segments (`span."foo bar"`), scoped intrinsics (`span:duration`),
//! durations glued to their number (`1h15m`, `100ms`), Go string escapes, and `//` / `/* */`
//! comments. Learner mistakes that are lexical (single quotes, `==`) carry a hint from here.

use crate::ast::AttrScope;
use crate::error::Error;
use std::ops::Range;

/// One token. Identifiers are kept as text; the parser decides whether one is a keyword,
/// an intrinsic or a function name, because that depends on where it appears.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Pipe,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `=~`
    Re,
    /// `!~` (regex not-match inside `{}`, not-sibling between spansets)
    NotRe,
    /// `==`, never valid; lexed so the error can teach `=`.
    EqEq,
    And,
    Or,
    Not,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    /// `>>`
    Desc,
    /// `<<`
    Anc,
    /// `~`
    Tilde,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDesc,
    /// `!<<`
    NotAnc,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDesc,
    /// `&<<`
    UnionAnc,
    /// `&~`
    UnionSibling,
    Ident(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    Str(String),
    /// `.name`, `span.name`, `resource."a b"`, `parent.span.x`, …
    Attr(AttrScope, String),
    /// `span:duration`: the scope word and the name after the colon.
    Scoped(String, String),
    Eof,
}

impl Tok {
    /// How the token is named in "unexpected X" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("identifier {name}"),
            Tok::Int(v) => format!("number {v}"),
            Tok::Float(v) => format!("number {v}"),
            Tok::Duration(_) => "duration".to_string(),
            Tok::Str(_) => "string".to_string(),
            Tok::Attr(..) => "attribute".to_string(),
            Tok::Scoped(scope, name) => format!("{scope}:{name}"),
            Tok::Eof => "end of query".to_string(),
            other => other.symbol().to_string(),
        }
    }

    /// The operator or punctuation text of a symbol token.
    pub fn symbol(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Pipe => "|",
            Tok::Eq => "=",
            Tok::Neq => "!=",
            Tok::Lt => "<",
            Tok::Lte => "<=",
            Tok::Gt => ">",
            Tok::Gte => ">=",
            Tok::Re => "=~",
            Tok::NotRe => "!~",
            Tok::EqEq => "==",
            Tok::And => "&&",
            Tok::Or => "||",
            Tok::Not => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Caret => "^",
            Tok::Desc => ">>",
            Tok::Anc => "<<",
            Tok::Tilde => "~",
            Tok::NotChild => "!>",
            Tok::NotParent => "!<",
            Tok::NotDesc => "!>>",
            Tok::NotAnc => "!<<",
            Tok::UnionChild => "&>",
            Tok::UnionParent => "&<",
            Tok::UnionDesc => "&>>",
            Tok::UnionAnc => "&<<",
            Tok::UnionSibling => "&~",
            _ => "",
        }
    }
}

/// A token and the byte range of the query it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

/// Characters that end an unquoted attribute name (besides whitespace), as in Tempo.
fn ends_attribute(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ',' | '"'
        )
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits a whole query into tokens, ending with [`Tok::Eof`].
pub fn tokenize(src: &str) -> Result<Vec<Token>, Error> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let eof = token.tok == Tok::Eof;
        out.push(token);
        if eof {
            return Ok(out);
        }
    }
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Lexer<'s> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_trivia(&mut self) -> Result<(), Error> {
        loop {
            let rest = self.rest();
            if let Some(c) = rest.chars().next().filter(|c| c.is_whitespace()) {
                self.pos += c.len_utf8();
            } else if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => {
                        return Err(Error::parse(
                            self.pos..self.src.len(),
                            "comment not terminated",
                        )
                        .with_hint("a `/*` comment needs a closing `*/`"));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, Error> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: start..start,
            });
        };
        let tok = match c {
            '{' => self.symbol(1, Tok::LBrace),
            '}' => self.symbol(1, Tok::RBrace),
            '(' => self.symbol(1, Tok::LParen),
            ')' => self.symbol(1, Tok::RParen),
            ',' => self.symbol(1, Tok::Comma),
            '+' => self.symbol(1, Tok::Plus),
            '-' => self.symbol(1, Tok::Minus),
            '*' => self.symbol(1, Tok::Star),
            '/' => self.symbol(1, Tok::Slash),
            '%' => self.symbol(1, Tok::Percent),
            '^' => self.symbol(1, Tok::Caret),
            '~' => self.symbol(1, Tok::Tilde),
            '|' if self.rest().starts_with("||") => self.symbol(2, Tok::Or),
            '|' => self.symbol(1, Tok::Pipe),
            '=' if self.rest().starts_with("==") => self.symbol(2, Tok::EqEq),
            '=' if self.rest().starts_with("=~") => self.symbol(2, Tok::Re),
            '=' => self.symbol(1, Tok::Eq),
            '!' => {
                let rest = self.rest();
                if rest.starts_with("!>>") {
                    self.symbol(3, Tok::NotDesc)
                } else if rest.starts_with("!<<") {
                    self.symbol(3, Tok::NotAnc)
                } else if rest.starts_with("!=") {
                    self.symbol(2, Tok::Neq)
                } else if rest.starts_with("!~") {
                    self.symbol(2, Tok::NotRe)
                } else if rest.starts_with("!>") {
                    self.symbol(2, Tok::NotChild)
                } else if rest.starts_with("!<") {
                    self.symbol(2, Tok::NotParent)
                } else {
                    self.symbol(1, Tok::Not)
                }
            }
            '&' => {
                let rest = self.rest();
                if rest.starts_with("&&") {
                    self.symbol(2, Tok::And)
                } else if rest.starts_with("&>>") {
                    self.symbol(3, Tok::UnionDesc)
                } else if rest.starts_with("&<<") {
                    self.symbol(3, Tok::UnionAnc)
                } else if rest.starts_with("&>") {
                    self.symbol(2, Tok::UnionChild)
                } else if rest.starts_with("&<") {
                    self.symbol(2, Tok::UnionParent)
                } else if rest.starts_with("&~") {
                    self.symbol(2, Tok::UnionSibling)
                } else {
                    return Err(Error::parse(start..start + 1, "syntax error: unexpected &")
                        .with_hint("`and` is written `&&`"));
                }
            }
            '>' if self.rest().starts_with(">>") => self.symbol(2, Tok::Desc),
            '>' if self.rest().starts_with(">=") => self.symbol(2, Tok::Gte),
            '>' => self.symbol(1, Tok::Gt),
            '<' if self.rest().starts_with("<<") => self.symbol(2, Tok::Anc),
            '<' if self.rest().starts_with("<=") => self.symbol(2, Tok::Lte),
            '<' => self.symbol(1, Tok::Lt),
            '"' => Tok::Str(self.string()?),
            '`' => Tok::Str(self.raw_string()?),
            '\'' => {
                return Err(Error::parse(start..start + 1, "syntax error: unexpected '")
                    .with_hint("strings use double quotes (\"checkout\") or backticks (`checkout`), not single quotes"));
            }
            '.' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.number()?,
            '.' => {
                self.bump();
                let name = self.attribute_name(start)?;
                Tok::Attr(AttrScope::None, name)
            }
            c if c.is_ascii_digit() => self.number()?,
            c if is_ident_start(c) => self.word()?,
            other => {
                return Err(Error::parse(
                    start..start + other.len_utf8(),
                    format!("syntax error: unexpected character {other:?}"),
                ));
            }
        };
        Ok(Token {
            tok,
            span: start..self.pos,
        })
    }

    fn symbol(&mut self, len: usize, tok: Tok) -> Tok {
        self.pos += len;
        tok
    }

    /// An identifier, or a scoped attribute (`span.x`), or a scoped intrinsic (`span:duration`).
    fn word(&mut self) -> Result<Tok, Error> {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        let word = &self.src[start..self.pos];
        let scope = match word {
            "span" => Some(AttrScope::Span),
            "resource" => Some(AttrScope::Resource),
            "event" => Some(AttrScope::Event),
            "link" => Some(AttrScope::Link),
            "instrumentation" => Some(AttrScope::Instrumentation),
            "parent" => Some(AttrScope::Parent),
            _ => None,
        };
        match (scope, self.peek()) {
            (Some(mut scope), Some('.')) => {
                self.bump();
                if scope == AttrScope::Parent {
                    // After `parent.` one more scope word is recognised.
                    for (prefix, inner) in [
                        ("span.", AttrScope::ParentSpan),
                        ("resource.", AttrScope::ParentResource),
                    ] {
                        if self.rest().starts_with(prefix) {
                            self.pos += prefix.len();
                            scope = inner;
                            break;
                        }
                    }
                }
                let name = self.attribute_name(start)?;
                Ok(Tok::Attr(scope, name))
            }
            (_, Some(':'))
                if matches!(
                    word,
                    "span" | "trace" | "event" | "link" | "instrumentation"
                ) =>
            {
                self.bump();
                let name_start = self.pos;
                while self.peek().is_some_and(is_ident_char) {
                    self.bump();
                }
                Ok(Tok::Scoped(
                    word.to_string(),
                    self.src[name_start..self.pos].to_string(),
                ))
            }
            _ => Ok(Tok::Ident(word.to_string())),
        }
    }

    /// The name after a scope's dot: unquoted runs and `"quoted"` segments, concatenated.
    fn attribute_name(&mut self, start: usize) -> Result<String, Error> {
        let mut name = String::new();
        let mut segments = 0;
        loop {
            match self.peek() {
                Some('"') => {
                    name.push_str(&self.quoted_attribute_segment()?);
                }
                Some(c) if !ends_attribute(c) => {
                    // As in Tempo, `//` and `/*` inside a name are part of the name.
                    while self.peek().is_some_and(|c| !ends_attribute(c)) {
                        if let Some(c) = self.bump() {
                            name.push(c);
                        }
                    }
                }
                _ => break,
            }
            segments += 1;
        }
        if segments == 0 {
            let text = &self.src[start..self.pos];
            return Err(Error::parse(start..self.pos, format!("syntax error: unexpected {text}, expecting an attribute name"))
                .with_hint("an attribute is written with its name right after the dot, e.g. `.http.route` or `span.http.route`"));
        }
        Ok(name)
    }

    /// `"foo bar"` inside an attribute name: only `\"` and `\\` escapes, as in Tempo.
    fn quoted_attribute_segment(&mut self) -> Result<String, Error> {
        let start = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(Error::parse(
                        start..self.pos,
                        "quoted attribute name not terminated",
                    )
                    .with_hint("close the attribute name with a double quote"));
                }
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c @ ('"' | '\\')) => out.push(c),
                    other => {
                        let at = self.pos - other.map(char::len_utf8).unwrap_or(0) - 1;
                        return Err(Error::parse(
                            at..self.pos,
                            "invalid escape in a quoted attribute name",
                        )
                        .with_hint(
                            "inside a quoted attribute name only \\\" and \\\\ may be escaped",
                        ));
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn raw_string(&mut self) -> Result<String, Error> {
        let start = self.pos;
        self.bump();
        match self.rest().find('`') {
            Some(end) => {
                let text = self.rest()[..end].to_string();
                self.pos += end + 1;
                Ok(text)
            }
            None => Err(
                Error::parse(start..self.src.len(), "literal not terminated")
                    .with_hint("a backtick string needs a closing backtick"),
            ),
        }
    }

    /// A double-quoted string with Go's escapes (`\n \t \" \\ \xHH \uHHHH \U00HHHHHH \ooo`).
    fn string(&mut self) -> Result<String, Error> {
        let start = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            let here = self.pos;
            match self.bump() {
                None | Some('\n') => {
                    return Err(Error::parse(start..here, "literal not terminated")
                        .with_hint("close the string with a double quote on the same line"));
                }
                Some('"') => return Ok(out),
                Some('\\') => {
                    let bad = |lexer: &Self| {
                        Error::parse(here..lexer.pos, "invalid escape in string")
                            .with_hint("supported escapes are \\n \\t \\r \\\" \\\\ \\xHH \\uHHHH and \\UHHHHHHHH")
                    };
                    let Some(e) = self.bump() else {
                        return Err(bad(self));
                    };
                    let c = match e {
                        'a' => '\x07',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\x0b',
                        '\\' => '\\',
                        '"' => '"',
                        'x' | 'u' | 'U' | '0'..='7' => {
                            let (digits, radix) = match e {
                                'x' => (2, 16),
                                'u' => (4, 16),
                                'U' => (8, 16),
                                _ => (2, 8),
                            };
                            let mut value: u32 = if radix == 8 { e as u32 - '0' as u32 } else { 0 };
                            for _ in 0..digits {
                                let d = self.bump().and_then(|c| c.to_digit(radix));
                                match d {
                                    Some(d) => value = value * radix + d,
                                    None => return Err(bad(self)),
                                }
                            }
                            // Byte escapes above 0x7f would not be valid UTF-8 on their own.
                            if matches!(e, 'x' | '0'..='7') && value > 0x7f {
                                return Err(bad(self));
                            }
                            match char::from_u32(value) {
                                Some(c) => c,
                                None => return Err(bad(self)),
                            }
                        }
                        _ => return Err(bad(self)),
                    };
                    out.push(c);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// An integer, a float, or a duration (a number with units glued on: `1h15m30.5s`).
    fn number(&mut self) -> Result<Tok, Error> {
        let start = self.pos;
        let mut is_float = false;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() == Some('.') {
            is_float = true;
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                self.bump();
                if sign == 1 {
                    self.bump();
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        if self
            .peek()
            .is_some_and(|c| c.is_alphabetic() || c == 'µ' || c == '_')
        {
            // Glued letters: a duration, or a mistake.
            while self
                .peek()
                .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == 'µ' || c == '_')
            {
                self.bump();
            }
            let text = &self.src[start..self.pos];
            return match parse_duration(text) {
                Some(nanos) => Ok(Tok::Duration(nanos)),
                None => Err(Error::parse(start..self.pos, format!("syntax error: invalid number or duration {text}"))
                    .with_hint("durations use the units ns, us, ms, s, m, h, d, w, y glued to the number, e.g. `250ms` or `1h30m`")),
            };
        }
        let text = &self.src[start..self.pos];
        if is_float {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Tok::Float(v)),
                _ => Err(Error::parse(
                    start..self.pos,
                    format!("syntax error: invalid number {text}"),
                )),
            }
        } else {
            text.parse::<i64>().map(Tok::Int).map_err(|_| {
                Error::parse(
                    start..self.pos,
                    format!("syntax error: integer {text} is too large"),
                )
                .with_hint("integers are 64-bit: at most 9223372036854775807")
            })
        }
    }
}

/// Reads a duration such as `1h15m30.5s`, `100ms` or `1.5d` into nanoseconds.
/// Units: ns, us, µs, ms, s, m (minute), h, d (24h), w (7d), y (365d).
pub fn parse_duration(text: &str) -> Option<i64> {
    const UNITS: [(&str, f64); 10] = [
        ("ns", 1.0),
        ("us", 1e3),
        ("µs", 1e3),
        ("ms", 1e6),
        ("s", 1e9),
        ("m", 60e9),
        ("h", 3600e9),
        ("d", 86400e9),
        ("w", 7.0 * 86400e9),
        ("y", 365.0 * 86400e9),
    ];
    let mut rest = text;
    let mut total: i128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let (num, after) = rest.split_at(num_len);
        let (unit, scale) = UNITS
            .iter()
            .filter(|(u, _)| after.starts_with(u))
            .max_by_key(|(u, _)| u.len())?;
        rest = &after[unit.len()..];
        if let Some((int_part, frac_part)) = num.split_once('.') {
            if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
                return None;
            }
            let whole: i128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().ok()?
            };
            total = total.checked_add(whole.checked_mul(*scale as i128)?)?;
            let frac: f64 = format!("0.{frac_part}").parse().ok()?;
            total = total.checked_add((frac * scale).round() as i128)?;
        } else {
            let whole: i128 = num.parse().ok()?;
            total = total.checked_add(whole.checked_mul(*scale as i128)?)?;
        }
        if total > i64::MAX as i128 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn attribute_names_run_until_an_operator_character() {
        assert_eq!(
            toks("{ .a-1=2 }"),
            vec![
                Tok::LBrace,
                Tok::Attr(AttrScope::None, "a-1".into()),
                Tok::Eq,
                Tok::Int(2),
                Tok::RBrace,
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("resource.service.name")[0],
            Tok::Attr(AttrScope::Resource, "service.name".into())
        );
        assert_eq!(
            toks("span.resource.foo")[0],
            Tok::Attr(AttrScope::Span, "resource.foo".into())
        );
        assert_eq!(
            toks("parent.span.x")[0],
            Tok::Attr(AttrScope::ParentSpan, "x".into())
        );
    }

    #[test]
    fn comment_markers_inside_an_attribute_name_belong_to_the_name() {
        // Found by fuzzing: this used to loop forever.
        let src = "{.a/*r.att8\0=r}";
        assert_eq!(
            toks(src)[1],
            Tok::Attr(AttrScope::None, "a/*r.att8\0".into())
        );
        assert_eq!(toks(".a//b")[0], Tok::Attr(AttrScope::None, "a//b".into()));
    }

    #[test]
    fn quoted_attribute_segments_are_concatenated() {
        assert_eq!(
            toks(r#"span.a."b c".d"#)[0],
            Tok::Attr(AttrScope::Span, "a.b c.d".into())
        );
        assert_eq!(
            toks(r#"."a\"b""#)[0],
            Tok::Attr(AttrScope::None, "a\"b".into())
        );
        assert!(tokenize(r#"."a\nb""#).is_err());
    }

    #[test]
    fn numbers_floats_and_durations_are_told_apart() {
        assert_eq!(toks(".5")[0], Tok::Float(0.5));
        assert_eq!(toks("1.")[0], Tok::Float(1.0));
        assert_eq!(toks("1e3")[0], Tok::Float(1000.0));
        assert_eq!(toks("1m")[0], Tok::Duration(60_000_000_000));
        assert_eq!(toks("1ms")[0], Tok::Duration(1_000_000));
        assert_eq!(toks("1h15m30.5s")[0], Tok::Duration(4_530_500_000_000));
        assert_eq!(toks("1.5µs")[0], Tok::Duration(1_500));
        assert!(tokenize("3foo").is_err());
        assert!(tokenize("0x1f").is_err());
        assert!(tokenize("99999999999999999999").is_err());
    }

    #[test]
    fn strings_decode_go_escapes_and_single_quotes_get_a_hint() {
        assert_eq!(toks(r#""a\tb\u00e9\x41""#)[0], Tok::Str("a\tbéA".into()));
        assert_eq!(toks("`a\\n`")[0], Tok::Str("a\\n".into()));
        let err = tokenize("{ name = 'x' }").unwrap_err();
        assert!(err.hint.unwrap().contains("double quotes"));
    }

    #[test]
    fn multi_character_operators_take_the_longest_match() {
        assert_eq!(
            toks("!>> &<< != =~ !~ >= >> == &~"),
            vec![
                Tok::NotDesc,
                Tok::UnionAnc,
                Tok::Neq,
                Tok::Re,
                Tok::NotRe,
                Tok::Gte,
                Tok::Desc,
                Tok::EqEq,
                Tok::UnionSibling,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_scoped_intrinsics_are_one_token() {
        assert_eq!(
            toks("span:duration // x\n /* y */ trace:rootService"),
            vec![
                Tok::Scoped("span".into(), "duration".into()),
                Tok::Scoped("trace".into(), "rootService".into()),
                Tok::Eof
            ]
        );
    }
}
