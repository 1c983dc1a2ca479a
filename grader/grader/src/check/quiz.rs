//! The quiz: multiple choice, shown to each learner in their own order, graded so that no
//! single letter passes, and explained without giving the answers away.
//!
//! Each learner sees the choices of every question in an order derived from their id (see
//! [`layout`]); answers are positions in that order. The positions of the right answers are
//! spread evenly over the letters, so answering "b" everywhere scores about a quarter. A
//! failed attempt says which questions were wrong; the right answers and the explanations
//! are shown once the quiz is passed or after [`QuizCheck::reveal_after`] failed attempts.

use std::collections::BTreeMap;

use super::feedback::{Feedback, Item, Verdict};
use crate::progress::LearnerId;
use crate::scenario::fnv1a;
use crate::seeded::SplitMix;
use crate::spec::types::QuizCheck;

/// The learner's view of a quiz: for each question (in the spec's order), the spec's choice
/// indices in the order the learner sees them. `layout[q][position]` is a choice index.
///
/// The right answers' positions go round the letters in a shuffled question order, starting
/// at a per-learner letter: with four choices per question, no letter holds more than a
/// quarter of the right answers (rounded up).
pub fn layout(
    check: &QuizCheck,
    lab: &str,
    exercise: &str,
    learner: &LearnerId,
) -> Vec<Vec<usize>> {
    let mut rng = SplitMix(fnv1a(&[
        b"quiz",
        lab.as_bytes(),
        exercise.as_bytes(),
        learner.as_str().as_bytes(),
    ]));
    let mut rank: Vec<usize> = (0..check.questions.len()).collect();
    rng.shuffle(&mut rank);
    let offset = rng.below(
        check
            .questions
            .iter()
            .map(|q| q.choices.len())
            .max()
            .unwrap_or(1),
    );
    let mut orders = vec![Vec::new(); check.questions.len()];
    for (j, &qi) in rank.iter().enumerate() {
        let q = &check.questions[qi];
        let k = q.choices.len();
        let mut others: Vec<usize> = (0..k).filter(|&c| c != q.answer).collect();
        rng.shuffle(&mut others);
        if q.answer < k {
            others.insert((j + offset) % k, q.answer);
        }
        orders[qi] = others;
    }
    orders
}

/// Whether this attempt may show the right answers, and how many failed attempts remain
/// before they are shown anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reveal {
    /// Show the right answers and explanations even if this attempt fails.
    pub answers: bool,
    /// Failed attempts (this one included) after which they are shown; `None` when nothing
    /// is remembered between attempts (`dojo grade`), so only a pass shows them.
    pub after_failures: Option<usize>,
}

impl Reveal {
    /// Only a pass shows the answers.
    pub const ON_PASS: Reveal = Reveal {
        answers: false,
        after_failures: None,
    };
}

/// Grades quiz answers: question id → position of the chosen answer in the learner's
/// `layout` (from 0).
pub fn grade(
    check: &QuizCheck,
    layout: &[Vec<usize>],
    answers: &BTreeMap<String, usize>,
    reveal: Reveal,
) -> Feedback {
    let total = check.questions.len();
    let chosen = |qi: usize, id: &str| -> Option<Result<usize, usize>> {
        let position = *answers.get(id)?;
        Some(
            layout
                .get(qi)
                .and_then(|order| order.get(position))
                .copied()
                .ok_or(position),
        )
    };
    let correct = check
        .questions
        .iter()
        .enumerate()
        .filter(|(qi, q)| chosen(*qi, &q.id) == Some(Ok(q.answer)))
        .count();
    let passed = correct >= check.pass_mark;
    let show = passed || reveal.answers;

    let mut items = Vec::new();
    for (qi, q) in check.questions.iter().enumerate() {
        let title = format!("Question {}: {}", qi + 1, q.question);
        let right = q.choices.get(q.answer).map(String::as_str).unwrap_or("");
        let answer_part = if show {
            format!(" The answer is \"{right}\". {}", q.explanation)
        } else {
            String::new()
        };
        match chosen(qi, &q.id) {
            None => items.push(Item::fail(title, format!("Not answered.{answer_part}"))),
            Some(Ok(choice)) if choice == q.answer => {
                items.push(Item::pass(title, format!("Right: \"{right}\". {}", q.explanation)));
            }
            Some(Ok(choice)) => {
                let text = q.choices.get(choice).map(String::as_str).unwrap_or("");
                items.push(Item::fail(
                    title,
                    format!("You chose \"{text}\", which is not right.{answer_part}"),
                ));
            }
            Some(Err(position)) => items.push(Item::fail(
                title,
                format!(
                    "Choice {position} is not one of the {} offered (they are numbered from 0).{answer_part}",
                    q.choices.len()
                ),
            )),
        }
    }
    let unknown: Vec<&str> = answers
        .keys()
        .filter(|id| !check.questions.iter().any(|q| &q.id == *id))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let ids: Vec<&str> = check.questions.iter().map(|q| q.id.as_str()).collect();
        items.push(Item::info(
            "Answers to questions this quiz does not have",
            format!(
                "These were ignored: {}. The questions are: {}.",
                unknown.join(", "),
                ids.join(", ")
            ),
        ));
    }
    let headline = if passed {
        format!(
            "{correct} of {total} correct: passed (the pass mark is {}).",
            check.pass_mark
        )
    } else if show {
        format!(
            "{correct} of {total} correct; {} are needed to pass. The right answers and their \
             explanations are shown below.",
            check.pass_mark
        )
    } else {
        let when = match reveal.after_failures {
            Some(n) => format!(
                "once you pass, or after {n} failed attempt{}",
                if n == 1 { "" } else { "s" }
            ),
            None => "once you pass".to_string(),
        };
        format!(
            "{correct} of {total} correct; {} are needed to pass. Revisit the questions marked \
             wrong; the right answers and explanations are shown {when}.",
            check.pass_mark
        )
    };
    Feedback {
        verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        score: if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        },
        headline,
        items,
        syntax_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::duration::SpecDuration;
    use crate::spec::types::Question;

    /// `n` questions of `k` choices whose right answer is always the spec's choice `answer`.
    fn quiz(n: usize, k: usize, answer: usize, pass_mark: usize) -> QuizCheck {
        QuizCheck {
            pass_mark,
            questions: (0..n)
                .map(|i| Question {
                    id: format!("q{i}"),
                    question: format!("question {i}"),
                    choices: (0..k).map(|c| format!("choice {c} of {i}")).collect(),
                    answer,
                    explanation: format!("because {i}"),
                })
                .collect(),
            reveal_after: 3,
            retake_wait: SpecDuration(std::time::Duration::from_secs(30)),
        }
    }

    fn learner(name: &str) -> LearnerId {
        LearnerId::for_name(name)
    }

    /// The positions of the right answers in the learner's layout.
    fn right_positions(check: &QuizCheck, layout: &[Vec<usize>]) -> BTreeMap<String, usize> {
        check
            .questions
            .iter()
            .zip(layout)
            .map(|(q, order)| {
                let at = order.iter().position(|&c| c == q.answer).expect("present");
                (q.id.clone(), at)
            })
            .collect()
    }

    #[test]
    fn every_layout_is_a_permutation_stable_per_learner_and_different_between_learners() {
        let check = quiz(10, 4, 1, 8);
        let ada = layout(&check, "quiz", "q", &learner("Ada"));
        assert_eq!(ada, layout(&check, "quiz", "q", &learner("Ada")));
        for order in &ada {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2, 3]);
        }
        let others = (0..20)
            .filter(|i| layout(&check, "quiz", "q", &learner(&format!("l{i}"))) != ada)
            .count();
        assert!(others >= 19, "layouts barely differ between learners");
    }

    #[test]
    fn no_single_letter_passes_for_any_learner_even_when_the_spec_puts_every_answer_first() {
        for (n, k, pass_mark) in [(10, 4, 8), (10, 4, 4), (7, 3, 4), (12, 4, 4)] {
            let check = quiz(n, k, 0, pass_mark);
            for i in 0..300 {
                let who = learner(&format!("learner {i}"));
                let layout = layout(&check, "quiz", "q", &who);
                for letter in 0..k {
                    let answers: BTreeMap<String, usize> = check
                        .questions
                        .iter()
                        .map(|q| (q.id.clone(), letter))
                        .collect();
                    let feedback = grade(&check, &layout, &answers, Reveal::ON_PASS);
                    let right = (feedback.score * n as f64).round() as usize;
                    assert!(
                        right <= n.div_ceil(k),
                        "{n}×{k}: {who} scores {right} with letter {letter} everywhere"
                    );
                    assert!(
                        !feedback.passed(),
                        "{n}×{k}: {who} passes on letter {letter}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_right_positions_pass_and_every_question_is_explained() {
        let check = quiz(3, 2, 0, 2);
        let layout = layout(&check, "quiz", "q", &learner("Ada"));
        let mut answers = right_positions(&check, &layout);
        // One wrong: the other position of question c.
        let c = answers["q2"];
        answers.insert("q2".into(), 1 - c);
        let feedback = grade(&check, &layout, &answers, Reveal::ON_PASS);
        assert!(feedback.passed(), "{}", feedback.to_text());
        assert!((feedback.score - 2.0 / 3.0).abs() < 1e-9);
        assert!(
            feedback.items[2]
                .message
                .contains("You chose \"choice 1 of 2\"")
        );
        assert!(
            feedback.items[2]
                .message
                .contains("The answer is \"choice 0 of 2\"")
        );
        assert!(feedback.items[2].message.contains("because 2"));
        assert!(feedback.items[0].message.contains("because 0"));
    }

    #[test]
    fn a_failed_attempt_says_what_was_wrong_without_the_right_answers_until_revealed() {
        let check = quiz(3, 2, 0, 2);
        let layout = layout(&check, "quiz", "q", &learner("Ada"));
        let right = right_positions(&check, &layout);
        let answers = BTreeMap::from([
            ("q0".to_string(), 1 - right["q0"]),
            ("q1".to_string(), 7),
            ("q9".to_string(), 0),
        ]);
        let failed = grade(
            &check,
            &layout,
            &answers,
            Reveal {
                answers: false,
                after_failures: Some(3),
            },
        );
        assert_eq!(failed.verdict, Verdict::Fail);
        let text = failed.to_text();
        assert!(text.contains("2 are needed"), "{text}");
        assert!(text.contains("after 3 failed attempts"), "{text}");
        assert!(text.contains("which is not right"), "{text}");
        assert!(text.contains("Choice 7 is not one of the 2"), "{text}");
        assert!(
            failed.items[2].message.starts_with("Not answered"),
            "{text}"
        );
        assert!(text.contains("q9") && text.contains("q0, q1, q2"), "{text}");
        for i in 0..3 {
            assert!(
                !text.contains(&format!("choice 0 of {i}")),
                "leaks a right answer: {text}"
            );
            assert!(
                !text.contains(&format!("because {i}")),
                "leaks an explanation: {text}"
            );
        }
        let revealed = grade(
            &check,
            &layout,
            &answers,
            Reveal {
                answers: true,
                after_failures: Some(3),
            },
        );
        let text = revealed.to_text();
        assert!(text.contains("The answer is \"choice 0 of 0\""), "{text}");
        assert!(text.contains("because 1"), "{text}");
    }
}
