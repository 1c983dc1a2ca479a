//! [`PanelStore`] over the grader's progress database (SQLite or PostgreSQL), where the
//! learner's attempts are kept too: panels survive a restart and go with the instructor's
//! reset of the learner.

use async_trait::async_trait;
use dojo_grader::progress::{self, NewPanel, PanelMove, Progress};

use crate::backend::LearnerId;
use crate::dashboards::{Panel, PanelDraft, PanelStore, PanelStoreError, Unit};

/// The progress database as the course's panel store.
#[derive(Clone)]
pub struct ProgressPanels {
    progress: Progress,
}

impl ProgressPanels {
    pub fn new(progress: Progress) -> ProgressPanels {
        ProgressPanels { progress }
    }
}

fn failed(error: progress::ProgressError) -> PanelStoreError {
    PanelStoreError(error.to_string())
}

fn panel(stored: progress::Panel) -> Panel {
    Panel {
        id: stored.id,
        title: stored.title,
        query: stored.query,
        // A unit this version does not know (a newer one wrote it) reads as a plain number.
        unit: Unit::parse(&stored.unit).unwrap_or(Unit::Count),
    }
}

#[async_trait]
impl PanelStore for ProgressPanels {
    async fn panels(&self, learner: &LearnerId) -> Result<Vec<Panel>, PanelStoreError> {
        let stored = self.progress.panels(learner).await.map_err(failed)?;
        Ok(stored.into_iter().map(panel).collect())
    }

    async fn add(
        &self,
        learner: &LearnerId,
        draft: &PanelDraft,
        cap: usize,
    ) -> Result<Option<Panel>, PanelStoreError> {
        let new = NewPanel {
            title: &draft.title,
            query: &draft.query,
            unit: draft.unit.name(),
        };
        let added = self
            .progress
            .add_panel(learner, new, cap)
            .await
            .map_err(failed)?;
        Ok(added.map(panel))
    }

    async fn delete(&self, learner: &LearnerId, id: i64) -> Result<bool, PanelStoreError> {
        self.progress
            .delete_panel(learner, id)
            .await
            .map_err(failed)
    }

    async fn move_panel(
        &self,
        learner: &LearnerId,
        id: i64,
        up: bool,
    ) -> Result<bool, PanelStoreError> {
        let direction = if up { PanelMove::Up } else { PanelMove::Down };
        self.progress
            .move_panel(learner, id, direction)
            .await
            .map_err(failed)
    }
}
