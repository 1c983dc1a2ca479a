//! How far apart two words are, for "did you mean" hints: the engine's misspelt keywords and
//! the course's typo-tolerant search share it.

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring letters each cost one (`stauts` is one swap from `status`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// How many edits a word of this length may be off and still be taken for the known one:
/// one for short words, two from six letters on; none below four (too many near misses).
pub fn tolerance(word: &str) -> usize {
    match word.chars().count() {
        0..=3 => 0,
        4..=5 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_and_swaps_cost_one_each() {
        assert_eq!(edit_distance("duraton", "duration"), 1);
        assert_eq!(edit_distance("stauts", "status"), 1);
        assert_eq!(edit_distance("propagaton", "propagation"), 1);
        assert_eq!(edit_distance("span", "span"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
