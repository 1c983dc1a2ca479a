//! A learner's dashboard panels in the progress database: each a title, a TraceQL metrics
//! query and the unit its values are in, kept in the order the learner arranged them. Every
//! statement names the learner, so one learner can neither read, move nor delete another's
//! panel, and the cap is counted in the same transaction as the insert.

use serde::Serialize;

use super::learner::LearnerId;
use super::store::{Db, Progress, ProgressError, now_ms, on_db};
use super::write_transaction::BeginWrite;

/// One stored panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub id: i64,
    /// Lower first; gaps are allowed (deleting leaves them).
    pub position: i64,
    pub title: String,
    pub query: String,
    /// The unit's name as the course spells it (`seconds`, `per_second`, …).
    pub unit: String,
    pub created_at_ms: i64,
}

/// What a learner saves; the caller has checked it (the query parses, the title is short).
#[derive(Debug, Clone, Copy)]
pub struct NewPanel<'a> {
    pub title: &'a str,
    pub query: &'a str,
    pub unit: &'a str,
}

/// Which way a panel moves in the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelMove {
    /// Towards the top (swaps with the panel before it).
    Up,
    /// Towards the bottom (swaps with the panel after it).
    Down,
}

const SQL_PANELS: &str = "SELECT id, position, title, query, unit, created_at \
     FROM dashboard_panels WHERE learner_id = $1 ORDER BY position, id";
const SQL_COUNT: &str = "SELECT COUNT(*), COALESCE(MAX(position), 0) \
     FROM dashboard_panels WHERE learner_id = $1";
const SQL_INSERT: &str = "INSERT INTO dashboard_panels \
     (learner_id, position, title, query, unit, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
     RETURNING id";
const SQL_DELETE: &str = "DELETE FROM dashboard_panels WHERE learner_id = $1 AND id = $2";
const SQL_POSITION: &str =
    "SELECT position FROM dashboard_panels WHERE learner_id = $1 AND id = $2";
const SQL_BEFORE: &str = "SELECT id, position FROM dashboard_panels \
     WHERE learner_id = $1 AND (position < $2 OR (position = $2 AND id < $3)) \
     ORDER BY position DESC, id DESC LIMIT 1";
const SQL_AFTER: &str = "SELECT id, position FROM dashboard_panels \
     WHERE learner_id = $1 AND (position > $2 OR (position = $2 AND id > $3)) \
     ORDER BY position, id LIMIT 1";
const SQL_SET_POSITION: &str =
    "UPDATE dashboard_panels SET position = $3 WHERE learner_id = $1 AND id = $2";

type PanelRow = (i64, i64, String, String, String, i64);

fn panel_from((id, position, title, query, unit, created_at_ms): PanelRow) -> Panel {
    Panel {
        id,
        position,
        title,
        query,
        unit,
        created_at_ms,
    }
}

impl Progress {
    /// The learner's panels, top first.
    pub async fn panels(&self, learner: &LearnerId) -> Result<Vec<Panel>, ProgressError> {
        let rows: Vec<PanelRow> = on_db!(self, pool => {
            sqlx::query_as(SQL_PANELS).bind(learner.as_str()).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(panel_from).collect())
    }

    /// Adds a panel at the bottom of the learner's dashboard; `None` when they already have
    /// `cap` panels. The learner must have joined.
    pub async fn add_panel(
        &self,
        learner: &LearnerId,
        panel: NewPanel<'_>,
        cap: usize,
    ) -> Result<Option<Panel>, ProgressError> {
        if self.learner(learner).await?.is_none() {
            return Err(ProgressError::UnknownLearner(learner.to_string()));
        }
        let now = now_ms();
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let added: Option<(i64, i64)> = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (count, last): (i64, i64) = sqlx::query_as(SQL_COUNT)
                .bind(learner.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if count >= cap {
                None
            } else {
                let position = last.saturating_add(1);
                let id: i64 = sqlx::query_scalar(SQL_INSERT)
                    .bind(learner.as_str())
                    .bind(position)
                    .bind(panel.title)
                    .bind(panel.query)
                    .bind(panel.unit)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Some((id, position))
            }
        });
        Ok(added.map(|(id, position)| Panel {
            id,
            position,
            title: panel.title.to_string(),
            query: panel.query.to_string(),
            unit: panel.unit.to_string(),
            created_at_ms: now,
        }))
    }

    /// Deletes one of the learner's panels; false when they have no panel with that id.
    pub async fn delete_panel(&self, learner: &LearnerId, id: i64) -> Result<bool, ProgressError> {
        let deleted = on_db!(self, pool => {
            sqlx::query(SQL_DELETE)
                .bind(learner.as_str())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Swaps one of the learner's panels with its neighbour; false when there is no such panel
    /// or it is already at that end.
    pub async fn move_panel(
        &self,
        learner: &LearnerId,
        id: i64,
        direction: PanelMove,
    ) -> Result<bool, ProgressError> {
        let neighbour_sql = match direction {
            PanelMove::Up => SQL_BEFORE,
            PanelMove::Down => SQL_AFTER,
        };
        let moved = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let position: Option<i64> = sqlx::query_scalar(SQL_POSITION)
                .bind(learner.as_str())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let neighbour: Option<(i64, i64)> = match position {
                Some(position) => {
                    sqlx::query_as(neighbour_sql)
                        .bind(learner.as_str())
                        .bind(position)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            match (position, neighbour) {
                (Some(mine), Some((other, theirs))) => {
                    // Positions are unique (a new panel goes after the last), so a swap keeps
                    // them unique and ordered.
                    for (panel, position) in [(id, theirs), (other, mine)] {
                        sqlx::query(SQL_SET_POSITION)
                            .bind(learner.as_str())
                            .bind(panel)
                            .bind(position)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    true
                }
                _ => false,
            }
        });
        Ok(moved)
    }
}
