//! Step 1: two Pratt parsers, one precedence table each, for field expressions inside `{ }`
//! and for everything between filters, building the loose tree of [`super::loose`]. Every
//! recursion and operator chain counts against [`MAX_DEPTH`].

use super::loose::Q;
use crate::ast::*;
use crate::error::{Error, ErrorKind};
use crate::lexer::{Tok, Token, tokenize};
use crate::model::{SpanKind, StatusCode};
use std::ops::Range;
use std::sync::Arc;

/// How deeply a query may nest (parentheses, operator chains, pipeline stages together).
pub const MAX_DEPTH: usize = 128;

/// The most memory a compiled regular expression may take.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Step 1 over a whole query: the loose tree, the `with (…)` hints, and the validation errors
/// found on the way (regexes that do not compile).
pub(super) fn parse_loose(src: &str) -> Result<(Q, Vec<QueryHint>, Vec<Error>), Error> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        deferred: Vec::new(),
    };
    if p.peek() == &Tok::Eof {
        return Err(Error::parse(
            0..src.len(),
            "syntax error: unexpected end of query, expecting a spanset such as { }",
        )
        .with_hint("an empty query is not TraceQL; `{ }` matches every span"));
    }
    let q = p.query(0)?;
    let hints = if p.peek_ident("with") {
        p.hints()?
    } else {
        Vec::new()
    };
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("an operator, | or the end of the query"));
    }
    Ok((q, hints, p.deferred))
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    deferred: Vec<Error>,
}

/// Binding power of a query-level infix operator, and whether it is right-associative.
fn query_infix(tok: &Tok) -> Option<(u8, bool)> {
    Some(match tok {
        Tok::Pipe => (1, false),
        Tok::And | Tok::Or => (2, false),
        Tok::Eq
        | Tok::Neq
        | Tok::Lt
        | Tok::Lte
        | Tok::Gt
        | Tok::Gte
        | Tok::Re
        | Tok::NotRe
        | Tok::Desc
        | Tok::Anc
        | Tok::Tilde
        | Tok::NotChild
        | Tok::NotParent
        | Tok::NotDesc
        | Tok::NotAnc
        | Tok::UnionChild
        | Tok::UnionParent
        | Tok::UnionDesc
        | Tok::UnionAnc
        | Tok::UnionSibling => (3, false),
        Tok::Plus | Tok::Minus => (4, false),
        Tok::Star | Tok::Slash | Tok::Percent => (5, false),
        Tok::Caret => (6, true),
        _ => return None,
    })
}

/// Binding power of a field-level infix operator (inside `{ }`), Tempo's `expr.y` order:
/// `&& ||` < comparisons < `+ -` < (prefix `!`) < `* / %` < `^`.
fn field_infix(tok: &Tok) -> Option<(u8, bool, BinOp)> {
    Some(match tok {
        Tok::And => (1, false, BinOp::And),
        Tok::Or => (1, false, BinOp::Or),
        Tok::Eq => (2, false, BinOp::Cmp(CmpOp::Eq)),
        Tok::Neq => (2, false, BinOp::Cmp(CmpOp::Neq)),
        Tok::Lt => (2, false, BinOp::Cmp(CmpOp::Lt)),
        Tok::Lte => (2, false, BinOp::Cmp(CmpOp::Lte)),
        Tok::Gt => (2, false, BinOp::Cmp(CmpOp::Gt)),
        Tok::Gte => (2, false, BinOp::Cmp(CmpOp::Gte)),
        Tok::Re => (2, false, BinOp::Match),
        Tok::NotRe => (2, false, BinOp::NotMatch),
        Tok::Plus => (3, false, BinOp::Arith(ArithOp::Add)),
        Tok::Minus => (3, false, BinOp::Arith(ArithOp::Sub)),
        Tok::Star => (5, false, BinOp::Arith(ArithOp::Mul)),
        Tok::Slash => (5, false, BinOp::Arith(ArithOp::Div)),
        Tok::Percent => (5, false, BinOp::Arith(ArithOp::Mod)),
        Tok::Caret => (6, true, BinOp::Arith(ArithOp::Pow)),
        _ => return None,
    })
}

/// Operand binding power of prefix `-` inside `{ }`: it binds like binary minus.
const NEG_OPERAND_BP: u8 = 4;
/// Operand binding power of prefix `!` inside `{ }`: looser than `*`, tighter than `+`.
const NOT_OPERAND_BP: u8 = 5;

const DOUBLE_EQUALS_HINT: &str =
    "TraceQL compares with a single `=`, e.g. `{ .http.status_code = 500 }`";

impl<'s> Parser<'s> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn peek_span(&self) -> Range<usize> {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
            .span
            .clone()
    }

    fn peek_nth(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn peek_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn prev_tok(&self) -> Option<&Tok> {
        self.pos.checked_sub(1).map(|i| &self.tokens[i].tok)
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.pos.min(self.tokens.len() - 1)].clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    /// The one helper for every "unexpected X, expecting Y".
    fn unexpected(&self, expecting: &str) -> Error {
        let tok = self.peek();
        let span = self.peek_span();
        let mut err = Error::parse(
            span,
            format!(
                "syntax error: unexpected {}, expecting {expecting}",
                tok.describe()
            ),
        );
        if tok == &Tok::EqEq {
            err = err.with_hint(DOUBLE_EQUALS_HINT);
        }
        err
    }

    fn expect(&mut self, tok: Tok, expecting: &str) -> Result<Range<usize>, Error> {
        if self.peek() == &tok {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn descend(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::TooDeep,
                self.peek_span(),
                format!("the query nests more than {MAX_DEPTH} levels deep"),
            )
            .with_hint("split the query into simpler parts"));
        }
        Ok(())
    }

    // ----- query level ---------------------------------------------------------------------

    fn query(&mut self, min_bp: u8) -> Result<Q, Error> {
        let saved = self.depth;
        self.descend()?;
        let mut lhs = self.query_primary()?;
        loop {
            let tok = self.peek().clone();
            if tok == Tok::EqEq {
                return Err(self.unexpected("an operator"));
            }
            let Some((bp, right)) = query_infix(&tok) else {
                break;
            };
            if bp < min_bp {
                break;
            }
            self.descend()?;
            let op_span = self.bump().span;
            let rhs = self.query(if right { bp } else { bp + 1 })?;
            lhs = if tok == Tok::Pipe {
                Q::Pipe {
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                }
            } else {
                Q::Bin {
                    op: tok,
                    op_span,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                }
            };
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn query_primary(&mut self) -> Result<Q, Error> {
        let start = self.peek_span().start;
        match self.peek().clone() {
            Tok::LBrace => Ok(Q::Filter(self.filter()?)),
            Tok::LParen => {
                self.bump();
                let inner = self.query(0)?;
                let end = self.expect(Tok::RParen, "an operator or )")?.end;
                Ok(Q::Paren(Box::new(inner), start..end))
            }
            Tok::Int(_) | Tok::Float(_) | Tok::Duration(_) => {
                let t = self.bump();
                Ok(Q::Num(number_static(&t.tok), t.span))
            }
            Tok::Minus if matches!(self.peek_nth(1), Tok::Int(_) | Tok::Float(_) | Tok::Duration(_)) => {
                self.bump();
                let t = self.bump();
                let value = negate_static(number_static(&t.tok)).ok_or_else(|| {
                    Error::parse(start..t.span.end, "syntax error: number out of range")
                })?;
                Ok(Q::Num(value, start..t.span.end))
            }
            Tok::Ident(word) => self.query_word(&word, start),
            Tok::Attr(..) | Tok::Scoped(..) => {
                let after_logic = matches!(self.prev_tok(), Some(Tok::And | Tok::Or));
                let hint = if after_logic {
                    "conditions go inside braces. To ask for one span that meets both conditions, put them in one pair: `{ .a = 1 && .b = 2 }`; `{ .a = 1 } && { .b = 2 }` asks for a trace with a span of each kind"
                } else {
                    "conditions on spans go inside braces, e.g. `{ span.http.route = \"/checkout\" }`"
                };
                Err(self.unexpected("{").with_hint(hint))
            }
            Tok::Str(_) => Err(self
                .unexpected("{")
                .with_hint("a string on its own is not a query; compare it inside braces: `{ name = \"checkout\" }`")),
            Tok::Eof => Err(self.unexpected("a spanset { … }")),
            _ => Err(self.unexpected("a spanset { … }")),
        }
    }

    fn query_word(&mut self, word: &str, start: usize) -> Result<Q, Error> {
        let func = match word {
            "count" => Some(AggregateFn::Count),
            "avg" => Some(AggregateFn::Avg),
            "min" => Some(AggregateFn::Min),
            "max" => Some(AggregateFn::Max),
            "sum" => Some(AggregateFn::Sum),
            _ => None,
        };
        if let Some(func) = func {
            self.bump();
            self.expect(Tok::LParen, "(")?;
            let expr = if func == AggregateFn::Count {
                None
            } else {
                if self.peek() == &Tok::RParen {
                    return Err(self
                        .unexpected("an attribute or intrinsic")
                        .with_hint(format!(
                            "{}() needs something to aggregate, e.g. `{}(duration)`",
                            func.as_str(),
                            func.as_str()
                        )));
                }
                Some(self.expr(0)?)
            };
            let end = self.expect(Tok::RParen, ")")?.end;
            return Ok(Q::Agg(Aggregate {
                func,
                expr,
                loc: Loc(start..end),
            }));
        }
        match word {
            "by" => {
                self.bump();
                self.expect(Tok::LParen, "(")?;
                if self.peek() == &Tok::RParen {
                    return Err(self.unexpected("an attribute or intrinsic").with_hint(
                        "by() needs what to group by, e.g. `by(resource.service.name)`",
                    ));
                }
                let expr = self.expr(0)?;
                let end = self.expect(Tok::RParen, ")")?.end;
                Ok(Q::By(expr, start..end))
            }
            "coalesce" => {
                self.bump();
                self.expect(Tok::LParen, "(")?;
                let end = self.expect(Tok::RParen, ")")?.end;
                Ok(Q::Coalesce(start..end))
            }
            "select" => {
                self.bump();
                self.expect(Tok::LParen, "(")?;
                let fields = self.field_list(
                    "select() needs at least one attribute, e.g. `select(span.http.route)`",
                )?;
                let end = self.expect(Tok::RParen, ", or )")?.end;
                Ok(Q::Select(fields, start..end))
            }
            "topk" | "bottomk" => {
                self.bump();
                self.expect(Tok::LParen, "(")?;
                let n =
                    match self.peek() {
                        Tok::Int(n) if *n >= 0 => *n as u64,
                        _ => {
                            return Err(self.unexpected("a positive whole number").with_hint(
                                format!("{word}(n) keeps the n highest series, e.g. `{word}(5)`"),
                            ));
                        }
                    };
                self.bump();
                let end = self.expect(Tok::RParen, ")")?.end;
                Ok(if word == "topk" {
                    Q::TopK(n, start..end)
                } else {
                    Q::BottomK(n, start..end)
                })
            }
            "rate"
            | "count_over_time"
            | "min_over_time"
            | "max_over_time"
            | "avg_over_time"
            | "sum_over_time"
            | "quantile_over_time"
            | "histogram_over_time"
            | "compare" => self.metrics_function(word, start),
            _ => Err(self.unknown_identifier(word, false)),
        }
    }

    fn metrics_function(&mut self, word: &str, start: usize) -> Result<Q, Error> {
        self.bump();
        self.expect(Tok::LParen, "(")?;
        let function = match word {
            "rate" => MetricsFunction::Rate,
            "count_over_time" => MetricsFunction::CountOverTime,
            "compare" => {
                if self.peek() != &Tok::LBrace {
                    return Err(self.unexpected("a spanset filter").with_hint(
                        "compare() takes the spans to compare, e.g. `compare({ status = error })`",
                    ));
                }
                let filter = self.filter()?;
                let mut ints = Vec::new();
                while self.eat(&Tok::Comma) {
                    match self.peek() {
                        Tok::Int(n) if ints.len() < 3 => {
                            ints.push(*n);
                            self.bump();
                        }
                        _ => return Err(self.unexpected("a whole number")),
                    }
                }
                MetricsFunction::Compare {
                    filter,
                    top_n: ints.first().copied(),
                    start: ints.get(1).copied(),
                    end: ints.get(2).copied(),
                }
            }
            _ => {
                let field = self.field_ref()?;
                match word {
                    "min_over_time" => MetricsFunction::MinOverTime(field),
                    "max_over_time" => MetricsFunction::MaxOverTime(field),
                    "avg_over_time" => MetricsFunction::AvgOverTime(field),
                    "sum_over_time" => MetricsFunction::SumOverTime(field),
                    "histogram_over_time" => MetricsFunction::HistogramOverTime(field),
                    _ => {
                        let mut qs = Vec::new();
                        while self.eat(&Tok::Comma) {
                            match self.peek() {
                                Tok::Int(n) => qs.push(*n as f64),
                                Tok::Float(f) => qs.push(*f),
                                _ => return Err(self.unexpected("a quantile between 0 and 1")),
                            }
                            self.bump();
                        }
                        if qs.is_empty() {
                            return Err(self
                                .unexpected(",")
                                .with_hint("quantile_over_time needs quantiles, e.g. `quantile_over_time(duration, 0.5, 0.99)`"));
                        }
                        MetricsFunction::QuantileOverTime(field, qs)
                    }
                }
            }
        };
        let mut end = self.expect(Tok::RParen, ")")?.end;
        let mut by = Vec::new();
        if self.peek_ident("by") {
            self.bump();
            self.expect(Tok::LParen, "(")?;
            by = self.field_list(
                "by() needs at least one attribute, e.g. `by (resource.service.name)`",
            )?;
            end = self.expect(Tok::RParen, ", or )")?.end;
        }
        Ok(Q::Metrics {
            function,
            by,
            span: start..end,
        })
    }

    fn field_list(&mut self, empty_hint: &str) -> Result<Vec<FieldRef>, Error> {
        if self.peek() == &Tok::RParen {
            return Err(self
                .unexpected("an attribute or intrinsic")
                .with_hint(empty_hint));
        }
        let mut fields = vec![self.field_ref()?];
        while self.eat(&Tok::Comma) {
            fields.push(self.field_ref()?);
        }
        Ok(fields)
    }

    /// An attribute or an intrinsic, and nothing else.
    fn field_ref(&mut self) -> Result<FieldRef, Error> {
        let span = self.peek_span();
        match self.peek().clone() {
            Tok::Attr(scope, name) => {
                self.bump();
                Ok(FieldRef::Attribute { scope, name })
            }
            Tok::Scoped(scope, name) => {
                self.bump();
                scoped_intrinsic(&scope, &name, span).map(FieldRef::Intrinsic)
            }
            Tok::Ident(word) => match Intrinsic::from_unscoped(&word) {
                Some(i) => {
                    self.bump();
                    Ok(FieldRef::Intrinsic(i))
                }
                None => Err(self.unknown_identifier(&word, false)),
            },
            _ => Err(self.unexpected("an attribute or intrinsic")),
        }
    }

    fn hints(&mut self) -> Result<Vec<QueryHint>, Error> {
        self.bump();
        self.expect(Tok::LParen, "(")?;
        let mut hints = Vec::new();
        loop {
            let Tok::Ident(name) = self.peek().clone() else {
                return Err(self.unexpected("a hint name"));
            };
            self.bump();
            self.expect(Tok::Eq, "=")?;
            let value = match self.expr_primary()?.kind {
                ExprKind::Static(s) => s,
                _ => {
                    return Err(Error::parse(
                        self.peek_span(),
                        "syntax error: a hint value must be a literal",
                    ));
                }
            };
            hints.push(QueryHint { name, value });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(Tok::RParen, ", or )")?;
        Ok(hints)
    }

    // ----- field level -----------------------------------------------------------------------

    /// `{ expr }`, `{ }` meaning `{ true }`.
    fn filter(&mut self) -> Result<SpansetFilter, Error> {
        let open = self.expect(Tok::LBrace, "{")?;
        if self.peek() == &Tok::RBrace {
            let end = self.bump().span.end;
            return Ok(SpansetFilter {
                expr: Expr {
                    kind: ExprKind::Static(Static::Bool(true)),
                    loc: Loc(open.start..end),
                },
                loc: Loc(open.start..end),
            });
        }
        let expr = self.expr(0)?;
        if self.peek() != &Tok::RBrace {
            let mut err = self.unexpected("an operator or }");
            if err.hint.is_none() {
                err = match self.peek() {
                    Tok::Eof | Tok::Pipe | Tok::LBrace => {
                        let (_, col) = Error::parse(open.clone(), "").line_col(self.src);
                        err.with_hint(format!("every `{{` needs a matching `}}`: the one at col {col} is not closed"))
                    }
                    Tok::Ident(unit)
                        if matches!(self.prev_tok(), Some(Tok::Int(_) | Tok::Float(_)))
                            && crate::lexer::parse_duration(&format!("1{unit}")).is_some() =>
                    {
                        err.with_hint(format!("write a duration without a space between number and unit, e.g. `100{unit}`"))
                    }
                    Tok::Attr(..) | Tok::Ident(_) | Tok::Scoped(..) => {
                        err.with_hint("join two conditions with `&&` (both) or `||` (either): `{ .a = 1 && .b = 2 }`")
                    }
                    Tok::RParen => err.with_hint("a `)` here has no matching `(`"),
                    _ => err,
                };
            }
            return Err(err);
        }
        let end = self.bump().span.end;
        Ok(SpansetFilter {
            expr,
            loc: Loc(open.start..end),
        })
    }

    fn expr(&mut self, min_bp: u8) -> Result<Expr, Error> {
        let saved = self.depth;
        self.descend()?;
        let mut lhs = self.expr_prefix()?;
        loop {
            let tok = self.peek().clone();
            if tok == Tok::EqEq {
                return Err(self.unexpected("an operator"));
            }
            let Some((bp, right, op)) = field_infix(&tok) else {
                break;
            };
            if bp < min_bp {
                break;
            }
            self.descend()?;
            self.bump();
            let rhs = self.expr(if right { bp } else { bp + 1 })?;
            lhs = self.binary(op, lhs, rhs);
        }
        self.depth = saved;
        Ok(lhs)
    }

    /// Builds a binary node: compiles the regex of `=~`/`!~`, normalises `trace:id` literals.
    fn binary(&mut self, op: BinOp, lhs: Expr, mut rhs: Expr) -> Expr {
        let loc = Loc(lhs.loc.0.start..rhs.loc.0.end);
        if matches!(op, BinOp::Match | BinOp::NotMatch)
            && let ExprKind::Static(Static::Str(source)) = &rhs.kind
        {
            let (regex, error) = compile_regex(source);
            if let Some(message) = error {
                self.deferred.push(Error::new(ErrorKind::Regex, rhs.loc.0.clone(), message).with_hint(
                    "TraceQL regexes use RE2 syntax and must match the whole value, e.g. `=~ \"GET /api/.*\"`",
                ));
            }
            rhs.kind = ExprKind::Pattern(Pattern {
                source: source.clone(),
                regex,
            });
        }
        let mut lhs = lhs;
        if let BinOp::Cmp(_) = op {
            let is_trace_id =
                |e: &Expr| e.kind == ExprKind::Field(FieldRef::Intrinsic(Intrinsic::TraceId));
            if is_trace_id(&lhs) {
                normalize_trace_id_literal(&mut rhs);
            }
            if is_trace_id(&rhs) {
                normalize_trace_id_literal(&mut lhs);
            }
        }
        Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            loc,
        }
    }

    fn expr_prefix(&mut self) -> Result<Expr, Error> {
        let start = self.peek_span().start;
        match self.peek() {
            Tok::Not => {
                self.bump();
                let saved = self.depth;
                self.descend()?;
                let inner = self.expr(NOT_OPERAND_BP)?;
                self.depth = saved;
                Ok(Expr {
                    loc: Loc(start..inner.loc.0.end),
                    kind: ExprKind::Unary {
                        op: UnaryOp::Not,
                        expr: Box::new(inner),
                    },
                })
            }
            Tok::Minus => {
                self.bump();
                let saved = self.depth;
                self.descend()?;
                let inner = self.expr(NEG_OPERAND_BP)?;
                self.depth = saved;
                let loc = Loc(start..inner.loc.0.end);
                // `-1` is a literal, as in Tempo (constant folded at parse time).
                if let ExprKind::Static(s) = &inner.kind
                    && let Some(negated) = negate_static(s.clone())
                {
                    return Ok(Expr {
                        kind: ExprKind::Static(negated),
                        loc,
                    });
                }
                Ok(Expr {
                    loc,
                    kind: ExprKind::Unary {
                        op: UnaryOp::Neg,
                        expr: Box::new(inner),
                    },
                })
            }
            _ => self.expr_primary(),
        }
    }

    fn expr_primary(&mut self) -> Result<Expr, Error> {
        let span = self.peek_span();
        let kind = match self.peek().clone() {
            Tok::LParen => {
                self.bump();
                let inner = self.expr(0)?;
                let end = self.expect(Tok::RParen, "an operator or )")?.end;
                return Ok(Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    loc: Loc(span.start..end),
                });
            }
            Tok::Str(s) => ExprKind::Static(Static::Str(s)),
            Tok::Int(_) | Tok::Float(_) | Tok::Duration(_) => {
                ExprKind::Static(number_static(self.peek()))
            }
            Tok::Attr(scope, name) => ExprKind::Field(FieldRef::Attribute { scope, name }),
            Tok::Scoped(scope, name) => ExprKind::Field(FieldRef::Intrinsic(scoped_intrinsic(
                &scope,
                &name,
                span.clone(),
            )?)),
            Tok::Ident(word) => match keyword_static(&word) {
                Some(s) => ExprKind::Static(s),
                None => match Intrinsic::from_unscoped(&word) {
                    Some(i) => ExprKind::Field(FieldRef::Intrinsic(i)),
                    None => return Err(self.unknown_identifier(&word, true)),
                },
            },
            Tok::RBrace | Tok::Eof
                if matches!(
                    self.prev_tok(),
                    Some(Tok::Eq | Tok::Neq | Tok::Lt | Tok::Gt | Tok::Lte | Tok::Gte)
                ) =>
            {
                return Err(self
                    .unexpected("a value")
                    .with_hint("a comparison needs a value on its right, e.g. `.a < 3`"));
            }
            _ => return Err(self.unexpected("a value, an attribute or an intrinsic")),
        };
        self.bump();
        Ok(Expr {
            kind,
            loc: Loc(span),
        })
    }

    /// An identifier that is neither a keyword nor an intrinsic: explain what was probably meant.
    fn unknown_identifier(&self, word: &str, in_filter: bool) -> Error {
        let span = self.peek_span();
        let reserved_scoped = match word {
            "id" | "parentID" | "childCount" => Some(format!("span:{word}")),
            "traceID" => Some("link:traceID or trace:id".to_string()),
            "spanID" => Some("link:spanID or span:id".to_string()),
            "timeSinceStart" => Some("event:timeSinceStart".to_string()),
            "version" => Some("instrumentation:version".to_string()),
            "rootService" => Some("trace:rootService".to_string()),
            _ => None,
        };
        if let Some(scoped) = reserved_scoped {
            return Error::parse(span, format!("syntax error: unexpected {word}"))
                .with_hint(format!("`{word}` needs its scope: write `{scoped}`"));
        }
        let err = Error::parse(span.clone(), format!("unknown identifier: {word}"));
        // `service.name` lexes as the word `service` glued to the attribute `.name`.
        if let Tok::Attr(AttrScope::None, rest) = self.peek_nth(1)
            && self
                .tokens
                .get(self.pos + 1)
                .is_some_and(|t| t.span.start == span.end)
        {
            let full = format!("{word}.{rest}");
            let resource_like = [
                "service",
                "host",
                "k8s",
                "process",
                "telemetry",
                "deployment",
                "container",
                "cloud",
                "os",
            ];
            let err = Error::parse(
                span.start..span.end + 1 + rest.len(),
                format!("unknown identifier: {full}"),
            );
            return if resource_like.contains(&word) {
                err.with_hint(format!(
                    "`{full}` is a resource attribute: write `resource.{full}` (or `.{full}` to look in every scope)"
                ))
            } else {
                err.with_hint(format!(
                    "attribute names start with a scope or a dot: `span.{full}` or `.{full}`"
                ))
            };
        }
        let lower = word.to_ascii_lowercase();
        if lower != word
            && (keyword_static(&lower).is_some() || Intrinsic::from_unscoped(&lower).is_some())
        {
            return err.with_hint(format!("TraceQL keywords are lower case: write `{lower}`"));
        }
        let after_comparison = matches!(
            self.prev_tok(),
            Some(
                Tok::Eq | Tok::Neq | Tok::Lt | Tok::Lte | Tok::Gt | Tok::Gte | Tok::Re | Tok::NotRe
            )
        );
        if let Some(near) = closest_keyword(word) {
            return err.with_hint(if after_comparison {
                format!("did you mean `{near}`? (a text value is written in double quotes: `\"{word}\"`)")
            } else {
                format!("did you mean `{near}`? (an attribute called `{word}` is written `.{word}`)")
            });
        }
        if in_filter && after_comparison {
            return err.with_hint(format!("text values need double quotes: `\"{word}\"`"));
        }
        if in_filter {
            return err.with_hint(format!(
                "attributes start with a dot or a scope: `.{word}` or `span.{word}`"
            ));
        }
        if !matches!(self.prev_tok(), Some(Tok::Pipe)) {
            return err.with_hint(format!(
                "conditions go inside curly braces: a query starts with `{{`, as in `{{ {word} … }}`"
            ));
        }
        err.with_hint(
            "after `|` TraceQL expects a spanset `{ … }`, an aggregate such as `count() > 1`, `by(…)`, `select(…)`, `coalesce()` or a metrics function such as `rate()`",
        )
    }
}

/// Tempo compares `trace:id` with its literal stripped of leading zeros.
fn normalize_trace_id_literal(e: &mut Expr) {
    if let ExprKind::Static(Static::Str(text)) = &mut e.kind {
        let trimmed = text.trim_start_matches('0');
        *text = if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        };
    }
}

fn number_static(tok: &Tok) -> Static {
    match tok {
        Tok::Int(v) => Static::Int(*v),
        Tok::Float(v) => Static::Float(*v),
        Tok::Duration(v) => Static::Duration(*v),
        _ => Static::Nil,
    }
}

fn negate_static(s: Static) -> Option<Static> {
    match s {
        Static::Int(v) => v.checked_neg().map(Static::Int),
        Static::Float(v) => Some(Static::Float(-v)),
        Static::Duration(v) => v.checked_neg().map(Static::Duration),
        _ => None,
    }
}

fn keyword_static(word: &str) -> Option<Static> {
    Some(match word {
        "true" => Static::Bool(true),
        "false" => Static::Bool(false),
        "nil" => Static::Nil,
        "ok" => Static::Status(StatusCode::Ok),
        "error" => Static::Status(StatusCode::Error),
        "unset" => Static::Status(StatusCode::Unset),
        "unspecified" => Static::Kind(SpanKind::Unspecified),
        "internal" => Static::Kind(SpanKind::Internal),
        "server" => Static::Kind(SpanKind::Server),
        "client" => Static::Kind(SpanKind::Client),
        "producer" => Static::Kind(SpanKind::Producer),
        "consumer" => Static::Kind(SpanKind::Consumer),
        "minInt" => Static::Int(i64::MIN),
        "maxInt" => Static::Int(i64::MAX),
        _ => return None,
    })
}

/// The words TraceQL knows without a scope, for "did you mean" hints on a misspelling.
const KNOWN_WORDS: &[&str] = &[
    "duration",
    "name",
    "status",
    "statusMessage",
    "kind",
    "rootName",
    "rootServiceName",
    "traceDuration",
    "nestedSetLeft",
    "nestedSetRight",
    "nestedSetParent",
    "true",
    "false",
    "error",
    "unset",
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];

/// The known word `word` is most likely a misspelling of: at most one edit away for short
/// words, two for words of six letters or more (`duraton` → `duration`, `stauts` →
/// `status`). Case is ignored (a wrong case has its own hint).
fn closest_keyword(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    let allowed = if word.chars().count() >= 6 { 2 } else { 1 };
    KNOWN_WORDS
        .iter()
        .map(|known| {
            (
                crate::spelling::edit_distance(&word, &known.to_ascii_lowercase()),
                *known,
            )
        })
        .filter(|(distance, _)| (1..=allowed).contains(distance))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

fn scoped_intrinsic(scope: &str, name: &str, span: Range<usize>) -> Result<Intrinsic, Error> {
    Intrinsic::from_scoped(scope, name).ok_or_else(|| {
        let err = Error::parse(span, format!("syntax error: unexpected {scope}:{name}"));
        let suggestion = match (scope, name) {
            ("trace", "rootServiceName") => Some("trace:rootService"),
            ("trace", "status") => Some("span:status"),
            ("trace", "kind") => Some("span:kind"),
            ("trace", "name") => Some("trace:rootName or span:name"),
            ("span", "rootName") => Some("trace:rootName"),
            ("span", "rootService" | "rootServiceName") => Some("trace:rootService"),
            ("span", "traceDuration") => Some("trace:duration"),
            _ => None,
        };
        match suggestion {
            Some(s) => err.with_hint(format!("did you mean `{s}`?")),
            None => err.with_hint(
                "scoped intrinsics are span:(duration|name|status|statusMessage|kind|id|parentID|childCount), trace:(duration|rootName|rootService|id), event:(name|timeSinceStart), link:(traceID|spanID), instrumentation:(name|version)",
            ),
        }
    })
}

/// Compiles a TraceQL regex as Tempo matches it: fully anchored, `.` matching newlines.
pub(crate) fn compile_regex(source: &str) -> (Option<Arc<regex::Regex>>, Option<String>) {
    let anchored = format!("^(?s:{source})$");
    match regex::RegexBuilder::new(&anchored)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(re) => (Some(Arc::new(re)), None),
        Err(regex::Error::CompiledTooBig(limit)) => (
            None,
            Some(format!(
                "regular expression {source:?} is too large (over {limit} bytes compiled)"
            )),
        ),
        Err(e) => {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            (
                None,
                Some(format!("invalid regular expression {source:?}: {last}")),
            )
        }
    }
}
