//! What some faults do to a request that is hit: real CPU work for `cpu_heavy` (a busy loop
//! would be optimised away or look fake in a profiler).

use std::time::{Duration, Instant};

/// Burns CPU for about `budget` on the calling thread, doing real arithmetic, and returns a
/// checksum so the work cannot be optimised away. Call it from `spawn_blocking`.
pub fn burn_cpu(budget: Duration) -> u64 {
    let start = Instant::now();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rounds: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..10_000 {
            // xorshift64*: cheap, deterministic, impossible to fold at compile time.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        }
        rounds += 1;
    }
    std::hint::black_box(state ^ rounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burning_cpu_takes_at_least_the_budget() {
        let start = Instant::now();
        burn_cpu(Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
