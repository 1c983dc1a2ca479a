//! Deployments drawn on a time axis: the week's timeline, one tick per rollout (blue for api,
//! green for frontend, red when it failed and was rolled back), each linking to its trace.

use dojo_grader::delivery::Rollout;

use super::xml;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 70.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 10.0;

/// The deployments between `start` and `end` (Unix nanoseconds) on one axis.
pub fn timeline(rollouts: &[Rollout], start: u64, end: u64) -> String {
    let span = end.saturating_sub(start).max(1) as f64;
    let x = |t: u64| LEFT + (t.saturating_sub(start) as f64 / span) * (WIDTH - LEFT - RIGHT);
    let mut out = format!(
        "<svg class=\"deploy-timeline\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Deployments over the week\">\
         <line x1=\"{LEFT}\" y1=\"40\" x2=\"{}\" y2=\"40\" stroke=\"#888\"/>",
        WIDTH - RIGHT
    );
    let days = (span / 86_400e9).round() as u64;
    for day in 0..=days {
        let t = end.saturating_sub(day * 86_400_000_000_000);
        let label = if day == 0 {
            "now".to_owned()
        } else {
            format!("-{day}d")
        };
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"62\" font-size=\"10\" text-anchor=\"middle\" fill=\"#666\">{label}</text>",
            x(t)
        ));
    }
    for rollout in rollouts {
        let (colour, row) = match (rollout.service.as_str(), rollout.succeeded) {
            (_, false) => ("#d62728", 40.0),
            ("api", true) => ("#4e79a7", 30.0),
            (_, true) => ("#59a14f", 50.0),
        };
        out.push_str(&format!(
            "<a href=\"/traces/{}\"><line class=\"deploy\" data-service=\"{}\" data-version=\"{}\" data-succeeded=\"{}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"3\"><title>{} {}{}</title></line></a>",
            xml(&rollout.trace_id),
            xml(&rollout.service),
            xml(&rollout.version),
            rollout.succeeded,
            row - 8.0,
            row + 8.0,
            xml(&rollout.service),
            xml(&rollout.version),
            if rollout.succeeded { "" } else { " (failed, rolled back)" },
            x = x(rollout.end_unix_nanos),
        ));
    }
    out.push_str(
        "<text x=\"10\" y=\"12\" font-size=\"10\" fill=\"#4e79a7\">api</text>\
         <text x=\"40\" y=\"12\" font-size=\"10\" fill=\"#59a14f\">frontend</text>\
         <text x=\"100\" y=\"12\" font-size=\"10\" fill=\"#d62728\">failed rollout</text></svg>",
    );
    out
}
