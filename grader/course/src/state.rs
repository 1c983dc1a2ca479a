//! The course's shared state: one cloneable value of cheap handles, given to [`crate::router`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::alert_board::AlertBoard;
use crate::alert_grading::AlertGradings;
use crate::alerts::AlertStore;
use crate::backend::{FaultControl, Grading, LogSource};
use crate::content::Course;
use crate::dashboards::PanelStore;
use crate::search::SearchIndex;
pub use crate::secrets::Secret;
use crate::session::Sessions;
use crate::throttle::{self, Throttle};
use crate::traces::Traces;

/// How the course behaves.
#[derive(Debug, Clone)]
pub struct CourseSettings {
    /// The token that opens the instructor pages. Without one, they stay closed.
    pub instructor_token: Option<Secret>,
    /// When set, learners must give this code to join (a workshop).
    pub workshop_code: Option<String>,
    /// How far back the console, the service graph and the RED charts look.
    pub window: Duration,
    /// How many traces the service graph and RED charts read, newest first. The lab's load
    /// generator makes about 11 traces a second, so 10,000 cover its 15-minute window; the
    /// services page took about 65 ms (debug build) at 2,000 six-span traces and about
    /// 130 ms at 10,000. The page says how far back they reach when the bound cuts them.
    pub recent_traces: usize,
    /// `(service, base URL)` of the running shop's services, for the commands lessons show
    /// (a lab started on other ports gets commands with its own ports).
    pub shop: Vec<(String, String)>,
    /// The course is reached over HTTPS (its public URL starts with `https://`): every cookie
    /// is `Secure`, whatever the proxy in front says.
    pub https: bool,
    /// How often every learner's alert rules are evaluated; a rule's "for" may not be shorter.
    pub alert_interval: Duration,
    /// The longest one alert rule's evaluation may take before the rule is paused.
    pub alert_budget: Duration,
}

impl Default for CourseSettings {
    fn default() -> Self {
        CourseSettings {
            instructor_token: None,
            workshop_code: None,
            window: Duration::from_secs(15 * 60),
            recent_traces: 10_000,
            shop: Vec::new(),
            https: false,
            alert_interval: Duration::from_secs(15),
            alert_budget: Duration::from_secs(2),
        }
    }
}

/// Everything handlers need.
#[derive(Clone)]
pub struct CourseState {
    pub(crate) inner: Arc<Inner>,
    pub(crate) sessions: Sessions,
}

pub(crate) struct Inner {
    pub course: Course,
    pub search: SearchIndex,
    pub traces: Traces,
    pub logs: Arc<dyn LogSource>,
    pub grading: Arc<dyn Grading>,
    pub faults: Arc<dyn FaultControl>,
    pub settings: CourseSettings,
    /// Join attempts per client address.
    pub joins: Throttle,
    /// Wrong instructor tokens per client address.
    pub instructor_failures: Throttle,
    /// Where learners' dashboard panels are kept; unset, the dashboards page says it is off.
    pub panels: OnceLock<Arc<dyn PanelStore>>,
    /// Where learners' alert rules are kept; unset, the alerts page says it is off.
    pub alerts: OnceLock<Arc<dyn AlertStore>>,
    /// Every rule's state and history, kept by the continuous evaluation.
    pub alert_board: AlertBoard,
    /// Each learner's current or last alert exercise grading (a job the lab page polls).
    pub alert_gradings: AlertGradings,
}

impl CourseState {
    /// Builds the state from the loaded course and the lab's parts.
    pub fn new(
        course: Course,
        traces: Traces,
        logs: Arc<dyn LogSource>,
        grading: Arc<dyn Grading>,
        faults: Arc<dyn FaultControl>,
        settings: CourseSettings,
    ) -> CourseState {
        let search = SearchIndex::build(&course);
        CourseState {
            inner: Arc::new(Inner {
                course,
                search,
                traces,
                logs,
                grading,
                faults,
                settings,
                joins: Throttle::new(throttle::JOIN),
                instructor_failures: Throttle::new(throttle::INSTRUCTOR_FAILURES),
                panels: OnceLock::new(),
                alerts: OnceLock::new(),
                alert_board: AlertBoard::default(),
                alert_gradings: AlertGradings::default(),
            }),
            sessions: Sessions::default(),
        }
    }
}

impl CourseState {
    /// The traces `visitor` may read: in a workshop whose store keeps learners apart, a
    /// learner's own (nothing before they join; the instructor reads the shared traffic);
    /// everyone's otherwise. Every page that shows traces reads them through this.
    pub(crate) fn traces_for(&self, visitor: &crate::session::Visitor) -> Traces {
        match &visitor.learner {
            Some((id, _)) => self.traces_of(id),
            None if visitor.instructor => self.inner.traces.clone(),
            None => self
                .inner
                .traces
                .for_learner(None)
                .unwrap_or_else(|| self.inner.traces.clone()),
        }
    }

    /// The traces `learner` may read: their own in a workshop whose store keeps learners
    /// apart, everyone's otherwise.
    pub(crate) fn traces_of(&self, learner: &crate::backend::LearnerId) -> Traces {
        self.inner
            .traces
            .for_learner(Some(learner))
            .unwrap_or_else(|| self.inner.traces.clone())
    }

    /// The learner id whose traffic alone `visitor` reads, when their pages are scoped to it
    /// (a workshop), for the pages to say so and how to send some.
    pub(crate) fn own_traffic_only(&self, visitor: &crate::session::Visitor) -> Option<String> {
        let (id, _) = visitor.learner.as_ref()?;
        self.inner
            .traces
            .for_learner(Some(id))
            .map(|_| id.to_string())
    }

    /// Keeps learners' dashboard panels in `panels` (set once, before serving).
    pub fn with_panels(self, panels: Arc<dyn PanelStore>) -> CourseState {
        let _ = self.inner.panels.set(panels);
        self
    }

    /// Where `learner`'s alert rule `id` stands (its state, history and last evaluation);
    /// `None` before its first evaluation or when it is not theirs.
    pub fn alert_status(
        &self,
        learner: &crate::backend::LearnerId,
        id: i64,
    ) -> Option<crate::alert_board::RuleStatus> {
        self.inner.alert_board.status(learner, id)
    }

    /// Keeps learners' alert rules in `alerts` (set once, before serving). The rules are
    /// evaluated once `crate::alert_evaluation::spawn` has been started with this state.
    pub fn with_alerts(self, alerts: Arc<dyn AlertStore>) -> CourseState {
        let _ = self.inner.alerts.set(alerts);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_and_compares_exactly() {
        let secret = Secret::new("s3cret-token");
        assert_eq!(format!("{secret:?}"), "Secret(…)");
        assert!(secret.matches("s3cret-token"));
        assert!(!secret.matches("s3cret-tokem"));
        assert!(!Secret::new("").matches(""));
    }
}
