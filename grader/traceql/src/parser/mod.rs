//! The parser: tokens → syntax tree, in two steps, a file each ([`pratt`], then [`shape`]),
//! meeting at the loose tree of [`loose`]; [`parse_query`] runs both.
//!
//! 1. Two Pratt parsers, one precedence table each: `Parser::expr` for field expressions
//!    inside `{ }` (and in `avg(…)`, `by(…)`), and `Parser::query` for everything between
//!    filters: `|`, spanset operators, scalar filters and metrics arithmetic. At the query level
//!    `>` may be "child of" or "greater than", so the query parser builds a loose tree
//!    ([`loose::Q`]) and leaves the decision to step 2.
//! 2. Shaping ([`shape::shape_root`]) turns the loose tree into the typed [`crate::ast`], deciding from
//!    the operands what each operator means, and rejecting combinations Tempo's grammar rejects
//!    (`{ } | count()`, `{} | rate() + 5`, …) as parse errors.
//!
//! Every recursion and every operator chain counts against [`MAX_DEPTH`], so a hostile query
//! cannot overflow the stack here or in the evaluator.

mod loose;
mod pratt;
mod shape;

use crate::ast::{QueryHint, Root};
use crate::error::Error;

pub use pratt::{MAX_DEPTH, REGEX_SIZE_LIMIT};

/// What the parser hands on: the tree, the hints, and validation errors it already found
/// (regexes that do not compile), which are reported only if the query also parses.
pub(crate) struct Parsed {
    pub root: Root,
    pub hints: Vec<QueryHint>,
    pub deferred: Vec<Error>,
}

pub(crate) fn parse_query(src: &str) -> Result<Parsed, Error> {
    let (loose, hints, deferred) = pratt::parse_loose(src)?;
    let root = shape::shape_root(loose)?;
    Ok(Parsed {
        root,
        hints,
        deferred,
    })
}
