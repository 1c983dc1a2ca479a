//! Per-learner scenarios: which variant of a lab's fault scenario each learner gets.
//!
//! The choice is a pure function of the lab's seed, the lab id and the learner id, so the
//! grader, the instructor page and `dojo up` all agree on it without storing anything, and a
//! learner keeps their variant across restarts. Neighbours usually get different variants,
//! so a root cause cannot be copied from the next screen.

use crate::progress::LearnerId;
use crate::spec::types::{Lab, Variant};

/// FNV-1a, 64 bit: tiny, stable across releases and platforms (unlike the standard library's
/// hasher or a seeded RNG whose algorithm may change), which is what an assignment must be.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// The variant of the lab's scenario this learner gets, or `None` for a lab without one.
pub fn variant_for<'a>(lab: &'a Lab, learner: &LearnerId) -> Option<&'a Variant> {
    let scenario = lab.scenario.as_ref()?;
    if scenario.variants.is_empty() {
        return None;
    }
    let hash = fnv1a(&[
        &scenario.seed.to_le_bytes(),
        lab.id.as_bytes(),
        learner.as_str().as_bytes(),
    ]);
    let len = u64::try_from(scenario.variants.len()).unwrap_or(u64::MAX);
    let index = usize::try_from(hash % len).unwrap_or(0);
    scenario.variants.get(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::types::{FaultToggle, Scenario};

    fn lab_with(variants: usize, seed: u64) -> Lab {
        Lab {
            id: "slowness".into(),
            title: "t".into(),
            summary: "s".into(),
            estimated_minutes: 10,
            lesson: None,
            starter: None,
            scenario: Some(Scenario {
                seed,
                variants: (0..variants)
                    .map(|i| Variant {
                        id: format!("v{i}"),
                        faults: vec![FaultToggle {
                            fault: "slow-query".into(),
                            params: Default::default(),
                            rate: None,
                        }],
                        truth: None,
                    })
                    .collect(),
            }),
            exercises: vec![],
        }
    }

    fn learner(id: &str) -> LearnerId {
        LearnerId::parse(id).expect("test ids are valid")
    }

    #[test]
    fn a_learner_always_gets_the_same_variant() {
        let lab = lab_with(4, 7);
        let first = variant_for(&lab, &learner("ada")).map(|v| v.id.clone());
        for _ in 0..10 {
            assert_eq!(
                variant_for(&lab, &learner("ada")).map(|v| v.id.clone()),
                first
            );
        }
    }

    #[test]
    fn a_class_of_thirty_is_spread_over_every_variant() {
        let lab = lab_with(4, 7);
        let mut counts = std::collections::HashMap::new();
        for i in 0..30 {
            let v = variant_for(&lab, &learner(&format!("learner-{i}"))).map(|v| v.id.clone());
            *counts.entry(v).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 4, "every variant is used: {counts:?}");
        assert!(
            counts.values().all(|&c| c >= 3),
            "no variant is starved: {counts:?}"
        );
    }

    #[test]
    fn changing_the_seed_reshuffles_the_class() {
        let a = lab_with(4, 1);
        let b = lab_with(4, 2);
        let moved = (0..30)
            .filter(|i| {
                let l = learner(&format!("learner-{i}"));
                variant_for(&a, &l).map(|v| &v.id) != variant_for(&b, &l).map(|v| &v.id)
            })
            .count();
        assert!(moved >= 10, "only {moved} of 30 learners changed variant");
    }

    #[test]
    fn a_lab_without_a_scenario_has_no_variant() {
        let mut lab = lab_with(1, 0);
        lab.scenario = None;
        assert!(variant_for(&lab, &learner("ada")).is_none());
    }
}
