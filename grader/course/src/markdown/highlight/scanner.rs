//! What every language's highlighter shares: the token classes (each a CSS class) and a
//! scanner over the code with the two measurements most tokenizers need (a quoted string's
//! length and a run of characters' length).

/// What a piece of code is, as far as colour goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Plain,
    Keyword,
    String,
    Number,
    Comment,
    Attribute,
    Function,
    Operator,
    Literal,
}

impl Class {
    pub(super) fn css(self) -> Option<&'static str> {
        Some(match self {
            Class::Plain => return None,
            Class::Keyword => "hl-kw",
            Class::String => "hl-str",
            Class::Number => "hl-num",
            Class::Comment => "hl-com",
            Class::Attribute => "hl-attr",
            Class::Function => "hl-fn",
            Class::Operator => "hl-op",
            Class::Literal => "hl-lit",
        })
    }
}

/// A cursor over source text for the language scanners: they look at the rest of the input
/// and take a token of some length; `finish` merges adjacent plain text.
pub(crate) struct Scanner<'a> {
    source: &'a str,
    position: usize,
    tokens: Vec<(Class, &'a str)>,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Scanner {
            source,
            position: 0,
            tokens: Vec::new(),
        }
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.source[self.position..]
    }

    pub(crate) fn done(&self) -> bool {
        self.position >= self.source.len()
    }

    /// Takes `len` bytes (clamped to a char boundary at or after it) as one token.
    pub(crate) fn take(&mut self, class: Class, len: usize) {
        let mut end = (self.position + len.max(1)).min(self.source.len());
        while !self.source.is_char_boundary(end) {
            end += 1;
        }
        self.tokens.push((class, &self.source[self.position..end]));
        self.position = end;
    }

    /// Takes one character as plain text.
    pub(crate) fn take_char(&mut self) {
        let len = self.rest().chars().next().map(char::len_utf8).unwrap_or(1);
        self.take(Class::Plain, len);
    }

    pub(crate) fn finish(self) -> Vec<(Class, &'a str)> {
        let mut merged: Vec<(Class, &'a str)> = Vec::with_capacity(self.tokens.len());
        let mut start: Option<(usize, usize)> = None; // byte range of a pending plain run
        let mut offset = 0;
        for (class, text) in self.tokens {
            if class == Class::Plain {
                start = Some(match start {
                    Some((s, _)) => (s, offset + text.len()),
                    None => (offset, offset + text.len()),
                });
            } else {
                if let Some((s, e)) = start.take() {
                    merged.push((Class::Plain, &self.source[s..e]));
                }
                merged.push((class, text));
            }
            offset += text.len();
        }
        if let Some((s, e)) = start {
            merged.push((Class::Plain, &self.source[s..e]));
        }
        merged
    }
}

/// Length of a quoted string at the start of `text` (which starts with `quote`), honouring
/// backslash escapes when `escapes` is set; an unterminated string runs to the end of the line.
pub(crate) fn quoted_len(text: &str, quote: char, escapes: bool) -> usize {
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if escapes && c == '\\' {
            chars.next();
        } else if c == quote {
            return i + c.len_utf8();
        } else if c == '\n' {
            return i;
        }
    }
    text.len()
}

/// Length of the run of characters at the start of `text` that satisfy `keep`.
pub(crate) fn run_len(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .find(|(_, c)| !keep(*c))
        .map(|(i, _)| i)
        .unwrap_or(text.len())
}
