//! The quiz: multiple choice, every answer explained whether it was right or not.

use std::collections::BTreeMap;

use super::feedback::{Feedback, Item, Verdict};
use crate::spec::types::QuizCheck;

/// Grades quiz answers: question id → index of the chosen answer (from 0).
pub fn grade(check: &QuizCheck, answers: &BTreeMap<String, usize>) -> Feedback {
    let mut items = Vec::new();
    let mut correct = 0;
    for (number, q) in check.questions.iter().enumerate() {
        let title = format!("Question {}: {}", number + 1, q.question);
        let right = q.choices.get(q.answer).map(String::as_str).unwrap_or("");
        match answers.get(&q.id) {
            None => items.push(Item::fail(
                title,
                format!("Not answered. The answer is \"{right}\". {}", q.explanation),
            )),
            Some(&choice) if choice == q.answer => {
                correct += 1;
                items.push(Item::pass(
                    title,
                    format!("Right: \"{right}\". {}", q.explanation),
                ));
            }
            Some(&choice) => {
                let chosen = match q.choices.get(choice) {
                    Some(text) => format!("You chose \"{text}\""),
                    None => format!(
                        "Choice {choice} is not one of the {} offered",
                        q.choices.len()
                    ),
                };
                items.push(Item::fail(
                    title,
                    format!("{chosen}; the answer is \"{right}\". {}", q.explanation),
                ));
            }
        }
    }
    let unknown: Vec<&String> = answers
        .keys()
        .filter(|id| !check.questions.iter().any(|q| &q.id == *id))
        .collect();
    if !unknown.is_empty() {
        items.push(Item::info(
            "Answers to questions this quiz does not have",
            format!(
                "These were ignored: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let total = check.questions.len();
    let passed = correct >= check.pass_mark;
    Feedback {
        verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        score: if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        },
        headline: if passed {
            format!(
                "{correct} of {total} correct: passed (the pass mark is {}).",
                check.pass_mark
            )
        } else {
            format!(
                "{correct} of {total} correct; {} are needed to pass. Read the explanations and try again.",
                check.pass_mark
            )
        },
        items,
        syntax_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::types::Question;

    fn quiz() -> QuizCheck {
        QuizCheck {
            pass_mark: 2,
            questions: ["a", "b", "c"]
                .iter()
                .map(|id| Question {
                    id: id.to_string(),
                    question: format!("question {id}"),
                    choices: vec!["yes".into(), "no".into()],
                    answer: 0,
                    explanation: format!("because {id}"),
                })
                .collect(),
        }
    }

    #[test]
    fn enough_right_answers_pass_and_every_question_is_explained() {
        let answers = BTreeMap::from([
            ("a".to_string(), 0),
            ("b".to_string(), 0),
            ("c".to_string(), 1),
        ]);
        let feedback = grade(&quiz(), &answers);
        assert!(feedback.passed());
        assert!((feedback.score - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(feedback.items.len(), 3);
        assert!(feedback.items[2].message.contains("You chose \"no\""));
        assert!(feedback.items[2].message.contains("because c"));
        assert!(feedback.items[0].message.contains("because a"));
    }

    #[test]
    fn too_few_right_answers_fail_and_say_how_many_are_needed() {
        let answers = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 7)]);
        let feedback = grade(&quiz(), &answers);
        assert_eq!(feedback.verdict, Verdict::Fail);
        assert!(feedback.headline.contains("2 are needed"));
        assert!(
            feedback.items[1]
                .message
                .contains("Choice 7 is not one of the 2")
        );
        assert!(feedback.items[2].message.starts_with("Not answered"));
    }
}
