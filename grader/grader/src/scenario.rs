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
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
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
    variant_in_round(lab, learner, 0)
}

/// The variant of the learner's incident number `round` (0 first): each round after the first
/// is the next variant of the scenario, so the incident a learner asks for after solving one
/// is always a different one (with two variants or more).
pub fn variant_in_round<'a>(lab: &'a Lab, learner: &LearnerId, round: u32) -> Option<&'a Variant> {
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
    let index = usize::try_from((hash % len + u64::from(round)) % len).unwrap_or(0);
    scenario.variants.get(index)
}

/// One fault to switch on in the running services, for the learners whose variant has it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlannedFault {
    /// The catalogue id (`slow_query`); serialized as `id`, as scenario files name it.
    #[serde(rename = "id")]
    pub fault: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// `None`: every request is eligible (one learner on a laptop). `Some`: only requests
    /// whose `learner.id` baggage is listed (a shared workshop app).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learners: Option<Vec<String>>,
    /// Only this release of the fault's service is hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The faults to switch on so that each learner meets their own variant.
///
/// With `scoped`, each fault is limited to the learners whose variant has it, so one running
/// app serves a class with different root causes. Without it (a laptop with one learner),
/// the faults of every listed learner's variant hit all traffic.
pub fn fault_plan(lab: &Lab, learners: &[LearnerId], scoped: bool) -> Vec<PlannedFault> {
    let first: Vec<(LearnerId, u32)> = learners.iter().map(|l| (l.clone(), 0)).collect();
    fault_plan_in_rounds(lab, &first, scoped)
}

/// [`fault_plan`] for learners each on their own incident (`round`, see [`variant_in_round`]).
pub fn fault_plan_in_rounds(
    lab: &Lab,
    learners: &[(LearnerId, u32)],
    scoped: bool,
) -> Vec<PlannedFault> {
    let mut plan: Vec<PlannedFault> = Vec::new();
    for (learner, round) in learners {
        let Some(variant) = variant_in_round(lab, learner, *round) else {
            continue;
        };
        for toggle in &variant.faults {
            let entry = match plan.iter_mut().find(|p| p.fault == toggle.fault) {
                Some(entry) => entry,
                None => {
                    plan.push(PlannedFault {
                        fault: toggle.fault.clone(),
                        fraction: toggle.fraction,
                        params: toggle.params.clone(),
                        learners: scoped.then(Vec::new),
                        version: toggle.version.clone(),
                    });
                    let last = plan.len() - 1;
                    &mut plan[last]
                }
            };
            if let Some(list) = &mut entry.learners
                && !list.iter().any(|l| l == learner.as_str())
            {
                list.push(learner.to_string());
            }
        }
    }
    plan
}

/// Two labs switch one fault on with different parameters; one running app cannot serve both.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the fault `{fault}` is switched on with different parameters by two of the labs being run; run those labs on separate apps, or give the fault the same parameters in both"
)]
pub struct PlanConflict {
    pub fault: String,
}

/// Merges the plans of several labs running on one app (learners on different labs in one
/// workshop): entries for the same fault become one, scoped to the union of their learners.
pub fn merge_plans(
    plans: impl IntoIterator<Item = Vec<PlannedFault>>,
) -> Result<Vec<PlannedFault>, PlanConflict> {
    let mut merged: Vec<PlannedFault> = Vec::new();
    for planned in plans.into_iter().flatten() {
        match merged.iter_mut().find(|m| m.fault == planned.fault) {
            None => merged.push(planned),
            Some(existing) => {
                if existing.params != planned.params
                    || existing.fraction != planned.fraction
                    || existing.version != planned.version
                {
                    return Err(PlanConflict {
                        fault: planned.fault,
                    });
                }
                existing.learners = match (existing.learners.take(), planned.learners) {
                    (Some(mut a), Some(b)) => {
                        for learner in b {
                            if !a.contains(&learner) {
                                a.push(learner);
                            }
                        }
                        Some(a)
                    }
                    // Unscoped anywhere means every request is eligible.
                    _ => None,
                };
            }
        }
    }
    Ok(merged)
}

/// The plan as a scenario file the services read at start (`DOJO_FAULT_SCENARIO`).
pub fn scenario_yaml(plan: &[PlannedFault]) -> Result<String, serde_yaml::Error> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        faults: &'a [PlannedFault],
    }
    serde_yaml::to_string(&File { faults: plan })
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
            languages: vec![],
            scenario: Some(Scenario {
                seed,
                variants: (0..variants)
                    .map(|i| Variant {
                        id: format!("v{i}"),
                        faults: vec![FaultToggle {
                            fault: "slow_query".into(),
                            params: Default::default(),
                            fraction: None,
                            version: None,
                        }],
                        truth: None,
                        deploy: None,
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
    fn each_new_incident_is_another_variant_and_the_rounds_visit_every_one() {
        let lab = lab_with(3, 7);
        let ada = learner("ada");
        let rounds: Vec<String> = (0..4)
            .map(|round| {
                variant_in_round(&lab, &ada, round)
                    .map(|v| v.id.clone())
                    .expect("a variant")
            })
            .collect();
        assert_eq!(
            Some(rounds[0].as_str()),
            variant_for(&lab, &ada).map(|v| v.id.as_str())
        );
        for pair in rounds.windows(2) {
            assert_ne!(
                pair[0], pair[1],
                "a new incident is another variant: {rounds:?}"
            );
        }
        let distinct: std::collections::HashSet<&String> = rounds[..3].iter().collect();
        assert_eq!(
            distinct.len(),
            3,
            "three rounds visit three variants: {rounds:?}"
        );
        assert_eq!(rounds[3], rounds[0], "then they come round again");
    }

    #[test]
    fn in_a_workshop_another_incident_moves_only_that_learners_fault() {
        let mut lab = lab_with(2, 7);
        if let Some(s) = lab.scenario.as_mut() {
            s.variants[1].faults[0].fault = "payments_slow".into();
        }
        let (ada, bob) = (learner("ada"), learner("bob"));
        let scope = |plan: &[PlannedFault], fault: &str| -> Vec<String> {
            plan.iter()
                .find(|p| p.fault == fault)
                .and_then(|p| p.learners.clone())
                .unwrap_or_default()
        };
        let before = fault_plan_in_rounds(&lab, &[(ada.clone(), 0), (bob.clone(), 0)], true);
        let after = fault_plan_in_rounds(&lab, &[(ada.clone(), 1), (bob.clone(), 0)], true);
        let ada_before = variant_in_round(&lab, &ada, 0).expect("a variant").faults[0]
            .fault
            .clone();
        let ada_after = variant_in_round(&lab, &ada, 1).expect("a variant").faults[0]
            .fault
            .clone();
        let bob_fault = variant_for(&lab, &bob).expect("a variant").faults[0]
            .fault
            .clone();
        assert_ne!(ada_before, ada_after);
        assert!(scope(&before, &ada_before).contains(&"ada".to_string()));
        assert!(!scope(&after, &ada_before).contains(&"ada".to_string()));
        assert!(scope(&after, &ada_after).contains(&"ada".to_string()));
        for plan in [&before, &after] {
            assert!(
                scope(plan, &bob_fault).contains(&"bob".to_string()),
                "bob keeps his incident: {plan:?}"
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
    fn a_scoped_plan_switches_each_fault_on_for_exactly_the_learners_whose_variant_has_it() {
        let mut lab = lab_with(2, 7);
        if let Some(s) = lab.scenario.as_mut() {
            s.variants[1].faults[0].fault = "payments_slow".into();
        }
        let class: Vec<LearnerId> = (0..12).map(|i| learner(&format!("l{i}"))).collect();
        let plan = fault_plan(&lab, &class, true);
        let mut covered = 0;
        for planned in &plan {
            let listed = planned
                .learners
                .as_ref()
                .expect("scoped plans list learners");
            for l in &class {
                let has = variant_for(&lab, l)
                    .is_some_and(|v| v.faults.iter().any(|f| f.fault == planned.fault));
                assert_eq!(
                    listed.contains(&l.to_string()),
                    has,
                    "{l} and {}",
                    planned.fault
                );
            }
            covered += listed.len();
        }
        assert_eq!(
            covered,
            class.len(),
            "every learner has exactly one fault here"
        );
        let yaml = scenario_yaml(&plan).expect("a plan serializes");
        assert!(
            yaml.contains("id: slow_query") && yaml.contains("learners:"),
            "{yaml}"
        );
    }

    #[test]
    fn plans_of_several_labs_merge_by_fault_and_refuse_conflicting_parameters() {
        let planned = |fault: &str, delay: i64, learner: &str| PlannedFault {
            fault: fault.into(),
            fraction: Some(0.3),
            params: serde_json::json!({ "delay_ms": delay })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            learners: Some(vec![learner.into()]),
            version: None,
        };
        let merged = merge_plans([
            vec![planned("slow_query", 900, "ada")],
            vec![
                planned("slow_query", 900, "bob"),
                planned("cpu_heavy", 400, "cy"),
            ],
        ])
        .expect("same parameters merge");
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged[0].learners,
            Some(vec!["ada".to_string(), "bob".to_string()])
        );
        let conflict = merge_plans([
            vec![planned("slow_query", 900, "ada")],
            vec![planned("slow_query", 700, "bob")],
        ]);
        assert_eq!(
            conflict,
            Err(PlanConflict {
                fault: "slow_query".into()
            })
        );
    }

    #[test]
    fn an_unscoped_plan_hits_all_traffic() {
        let lab = lab_with(3, 7);
        let plan = fault_plan(&lab, &[learner("me")], false);
        assert_eq!(plan.len(), 1);
        assert!(plan[0].learners.is_none());
        assert!(
            !scenario_yaml(&plan)
                .expect("serializes")
                .contains("learners")
        );
    }

    #[test]
    fn a_lab_without_a_scenario_has_no_variant() {
        let mut lab = lab_with(1, 0);
        lab.scenario = None;
        assert!(variant_for(&lab, &learner("ada")).is_none());
    }
}
