//! The evaluation budget: queries are untrusted input, so evaluation stops with
//! [`ErrorKind::Budget`] after a number of steps or at a deadline, whichever comes first.
//!
//! A step is one span looked at by a filter, aggregate or grouping, or one move in a
//! structural operator. The clock is read only every [`CLOCK_EVERY`] steps to keep it cheap.

use crate::error::{Error, ErrorKind};
use std::time::{Duration, Instant};

/// Read the clock once per this many steps.
pub const CLOCK_EVERY: u64 = 4096;

/// The default step allowance: ample for a search over a few million spans.
pub const DEFAULT_STEPS: u64 = 200_000_000;

/// How much work an evaluation may still do.
#[derive(Debug, Clone)]
pub struct EvalBudget {
    /// Steps left.
    pub steps: u64,
    /// When to give up, if anyone is waiting.
    pub deadline: Option<Instant>,
    since_clock: u64,
}

impl Default for EvalBudget {
    fn default() -> Self {
        EvalBudget::new(DEFAULT_STEPS, None)
    }
}

impl EvalBudget {
    pub fn new(steps: u64, timeout: Option<Duration>) -> Self {
        EvalBudget {
            steps,
            deadline: timeout.map(|t| Instant::now() + t),
            since_clock: 0,
        }
    }

    /// No limits (for trusted callers and benchmarks).
    pub fn unlimited() -> Self {
        EvalBudget::new(u64::MAX, None)
    }

    /// Spends `n` steps, failing when the budget is exhausted.
    #[inline]
    pub fn charge(&mut self, n: u64) -> Result<(), Error> {
        if self.steps < n {
            self.steps = 0;
            return Err(Error::new(ErrorKind::Budget, 0..0, "the query needed more work than allowed and was stopped")
                .with_hint("narrow it down: add conditions to the first spanset or search a shorter time range"));
        }
        self.steps -= n;
        self.since_clock += n;
        if self.since_clock >= CLOCK_EVERY {
            self.since_clock = 0;
            if let Some(deadline) = self.deadline
                && Instant::now() >= deadline
            {
                return Err(Error::new(ErrorKind::Budget, 0..0, "the query took longer than allowed and was stopped")
                    .with_hint("narrow it down: add conditions to the first spanset or search a shorter time range"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_steps_is_a_budget_error() {
        let mut b = EvalBudget::new(10, None);
        assert!(b.charge(10).is_ok());
        assert_eq!(b.charge(1).unwrap_err().kind, ErrorKind::Budget);
    }

    #[test]
    fn a_passed_deadline_is_a_budget_error() {
        let mut b = EvalBudget::new(u64::MAX, Some(Duration::ZERO));
        let err = (0..CLOCK_EVERY).map(|_| b.charge(1)).find(|r| r.is_err());
        assert_eq!(err.unwrap().unwrap_err().kind, ErrorKind::Budget);
    }
}
