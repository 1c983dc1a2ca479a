//! A tiny random generator whose sequence is fixed forever (SplitMix64), for everything seeded
//! per learner: the quiz's order of choices, the lab's change history. A learner's page, their
//! grading and their data must agree across releases and platforms, which a library RNG whose
//! algorithm may change cannot promise.

/// SplitMix64: a tiny generator whose sequence is fixed forever, which a per-learner order
/// must be (a learner's page and their grading agree across releases).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which is small here, so the modulo bias is negligible).
    pub fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(bound.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
