//! The loose query-level tree the Pratt step builds and the shaping step turns into the
//! typed AST: at this level `>` may still be "child of" or "greater than".

use crate::ast::*;
use crate::lexer::Tok;
use std::ops::Range;

/// The loose query-level tree (step 1), shaped into the AST by [`shape_root`].
#[derive(Debug)]
pub(crate) enum Q {
    Filter(SpansetFilter),
    Paren(Box<Q>, Range<usize>),
    Bin {
        op: Tok,
        op_span: Range<usize>,
        lhs: Box<Q>,
        rhs: Box<Q>,
    },
    Pipe {
        lhs: Box<Q>,
        rhs: Box<Q>,
    },
    Agg(Aggregate),
    By(Expr, Range<usize>),
    Coalesce(Range<usize>),
    Select(Vec<FieldRef>, Range<usize>),
    Metrics {
        function: MetricsFunction,
        by: Vec<FieldRef>,
        span: Range<usize>,
    },
    TopK(u64, Range<usize>),
    BottomK(u64, Range<usize>),
    Num(Static, Range<usize>),
}

impl Q {
    pub(super) fn span(&self) -> Range<usize> {
        match self {
            Q::Filter(f) => f.loc.0.clone(),
            Q::Paren(_, s)
            | Q::By(_, s)
            | Q::Coalesce(s)
            | Q::Select(_, s)
            | Q::TopK(_, s)
            | Q::BottomK(_, s)
            | Q::Num(_, s) => s.clone(),
            Q::Metrics { span, .. } => span.clone(),
            Q::Agg(a) => a.loc.0.clone(),
            Q::Bin { lhs, rhs, .. } | Q::Pipe { lhs, rhs } => lhs.span().start..rhs.span().end,
        }
    }
}
