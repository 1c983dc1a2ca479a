//! The progress database behind a cheap cloneable handle.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::learner::LearnerId;
use super::write_transaction::BeginWrite;

/// Why the progress store failed.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("DATABASE_URL must start with `sqlite:` or `postgres://`; got `{0}`")]
    UnsupportedUrl(String),
    #[error("cannot open the progress database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot bring the progress database schema up to date: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("progress database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no learner with id `{0}` has joined")]
    UnknownLearner(String),
    #[error("stored JSON is unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

/// A learner who has joined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Learner {
    pub id: LearnerId,
    pub display_name: String,
    pub created_at_ms: i64,
}

/// What a caller records for one graded submission.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    pub learner: &'a LearnerId,
    pub lab: &'a str,
    pub exercise: &'a str,
    pub kind: &'a str,
    pub submission: serde_json::Value,
    pub passed: bool,
    /// 0.0 to 1.0.
    pub score: f64,
    pub feedback: serde_json::Value,
}

/// One stored attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub id: i64,
    pub learner: LearnerId,
    pub lab: String,
    pub exercise: String,
    pub kind: String,
    pub submission: serde_json::Value,
    pub passed: bool,
    pub score: f64,
    pub feedback: serde_json::Value,
    pub created_at_ms: i64,
}

/// A learner's standing on one exercise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub lab: String,
    pub exercise: String,
    pub best_score: f64,
    pub passed: bool,
    pub attempts: i64,
    pub hints_revealed: i64,
    pub first_passed_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

/// Which incident of a lab's fault scenario a learner is on: round 0 is the variant the
/// learner was first given; each request for another incident moves to the next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Incident {
    pub round: u32,
    /// When the round started; `None` for round 0, which starts when the learner joins.
    pub started_at_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub(super) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code on whichever pool is open; each arm is type-checked for its database.
macro_rules! on_db {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}
pub(super) use on_db;

/// The progress store. Cloning is cheap: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Progress {
    pub(super) db: Db,
}

const SQL_UPSERT_LEARNER: &str = "INSERT INTO learners (id, display_name, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name";
const SQL_INSERT_LEARNER: &str = "INSERT INTO learners (id, display_name, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
const SQL_RENAME_LEARNER: &str = "UPDATE learners SET display_name = $2 WHERE id = $1";
const SQL_INSERT_KEY: &str = "INSERT INTO learner_keys (learner_id, key_hash, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const SQL_KEY_OF: &str = "SELECT key_hash FROM learner_keys WHERE learner_id = $1";
const SQL_LEARNER_BY_KEY: &str = "SELECT l.id, l.display_name, l.created_at \
     FROM learners l JOIN learner_keys k ON k.learner_id = l.id WHERE k.key_hash = $1";
const SQL_RELEASE_KEY: &str = "DELETE FROM learner_keys WHERE learner_id = $1";
const SQL_LEARNER: &str = "SELECT id, display_name, created_at FROM learners WHERE id = $1";
const SQL_LEARNERS: &str =
    "SELECT id, display_name, created_at FROM learners ORDER BY created_at, id";
const SQL_INSERT_ATTEMPT: &str = "INSERT INTO attempts \
     (learner_id, lab, exercise, kind, submission, passed, score, feedback, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
const SQL_UPSERT_SCORE: &str = "INSERT INTO scores \
     (learner_id, lab, exercise, best_score, passed, attempts, hints_revealed, first_passed_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, 1, 0, $6, $7) \
     ON CONFLICT (learner_id, lab, exercise) DO UPDATE SET \
       best_score = CASE WHEN excluded.best_score > scores.best_score THEN excluded.best_score ELSE scores.best_score END, \
       passed = (scores.passed OR excluded.passed), \
       attempts = scores.attempts + 1, \
       first_passed_at = COALESCE(scores.first_passed_at, excluded.first_passed_at), \
       updated_at = excluded.updated_at";
const SQL_REVEAL_HINT: &str = "INSERT INTO scores \
     (learner_id, lab, exercise, best_score, passed, attempts, hints_revealed, first_passed_at, updated_at) \
     VALUES ($1, $2, $3, 0, FALSE, 0, $4, NULL, $5) \
     ON CONFLICT (learner_id, lab, exercise) DO UPDATE SET \
       hints_revealed = CASE WHEN excluded.hints_revealed > scores.hints_revealed THEN excluded.hints_revealed ELSE scores.hints_revealed END, \
       updated_at = excluded.updated_at \
     RETURNING hints_revealed";
const SQL_ATTEMPT: &str = "SELECT id, learner_id, lab, exercise, kind, submission, passed, score, feedback, created_at \
     FROM attempts WHERE id = $1";
const SQL_ATTEMPTS: &str = "SELECT id, learner_id, lab, exercise, kind, submission, passed, score, feedback, created_at \
     FROM attempts WHERE learner_id = $1 AND lab = $2 AND exercise = $3 ORDER BY id DESC LIMIT $4";
const SQL_SCORES: &str = "SELECT lab, exercise, best_score, passed, attempts, hints_revealed, first_passed_at, updated_at \
     FROM scores WHERE learner_id = $1 ORDER BY lab, exercise";
const SQL_RESET_ATTEMPTS: &str = "DELETE FROM attempts WHERE learner_id = $1";
const SQL_RESET_SCORES: &str = "DELETE FROM scores WHERE learner_id = $1";
const SQL_REMOVE_LEARNER: &str = "DELETE FROM learners WHERE id = $1";
const SQL_INCIDENT: &str =
    "SELECT round, started_at FROM incidents WHERE learner_id = $1 AND lab = $2";
const SQL_NEXT_INCIDENT: &str = "INSERT INTO incidents (learner_id, lab, round, started_at) \
     VALUES ($1, $2, 1, $3) \
     ON CONFLICT (learner_id, lab) DO UPDATE SET round = incidents.round + 1, started_at = excluded.started_at \
     RETURNING round, started_at";
const SQL_INCIDENTS: &str =
    "SELECT learner_id, round, started_at FROM incidents WHERE lab = $1 ORDER BY learner_id";
const SQL_RESET_INCIDENTS: &str = "DELETE FROM incidents WHERE learner_id = $1";

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn incident_from((round, started_at): (i64, i64)) -> Incident {
    Incident {
        round: u32::try_from(round).unwrap_or(u32::MAX),
        started_at_ms: Some(started_at),
    }
}

fn learner_from_row<R: Row>(row: &R) -> Result<Learner, ProgressError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let id: String = row.try_get("id")?;
    Ok(Learner {
        id: stored_learner_id(id)?,
        display_name: row.try_get("display_name")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

pub(super) fn stored_learner_id(id: String) -> Result<LearnerId, ProgressError> {
    LearnerId::parse(&id).map_err(|e| ProgressError::Database(sqlx::Error::Decode(Box::new(e))))
}

fn attempt_from_row<R: Row>(row: &R) -> Result<Attempt, ProgressError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let submission: String = row.try_get("submission")?;
    let feedback: String = row.try_get("feedback")?;
    Ok(Attempt {
        id: row.try_get("id")?,
        learner: stored_learner_id(row.try_get("learner_id")?)?,
        lab: row.try_get("lab")?,
        exercise: row.try_get("exercise")?,
        kind: row.try_get("kind")?,
        submission: serde_json::from_str(&submission)?,
        passed: row.try_get("passed")?,
        score: row.try_get("score")?,
        feedback: serde_json::from_str(&feedback)?,
        created_at_ms: row.try_get("created_at")?,
    })
}

fn score_from_row<R: Row>(row: &R) -> Result<Score, ProgressError>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    Ok(Score {
        lab: row.try_get("lab")?,
        exercise: row.try_get("exercise")?,
        best_score: row.try_get("best_score")?,
        passed: row.try_get("passed")?,
        attempts: row.try_get("attempts")?,
        hints_revealed: row.try_get("hints_revealed")?,
        first_passed_at_ms: row.try_get("first_passed_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

impl Progress {
    /// Opens the database named by a `DATABASE_URL` (`sqlite:path`, `sqlite::memory:` or
    /// `postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, ProgressError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(ProgressError::Connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // An in-memory database exists once per connection: keep exactly one.
            let max = if url.contains(":memory:") { 1 } else { 8 };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .connect_with(options)
                .await
                .map_err(ProgressError::Connect)?;
            sqlx::migrate!("./migrations/sqlite")
                .run(&pool)
                .await
                .map_err(ProgressError::Migrate)?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(ProgressError::Connect)?;
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .map_err(ProgressError::Migrate)?;
            Db::Postgres(pool)
        } else {
            return Err(ProgressError::UnsupportedUrl(url.to_string()));
        };
        Ok(Progress { db })
    }

    /// Which database this is, for logs: `sqlite` or `postgresql`.
    pub fn backend_name(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgresql",
        }
    }

    /// Adds a learner, or renames one who already joined.
    pub async fn join(&self, id: &LearnerId, display_name: &str) -> Result<Learner, ProgressError> {
        let now = now_ms();
        on_db!(self, pool => {
            sqlx::query(SQL_UPSERT_LEARNER)
                .bind(id.as_str())
                .bind(display_name)
                .bind(now)
                .execute(pool)
                .await?;
        });
        self.learner(id)
            .await?
            .ok_or_else(|| ProgressError::UnknownLearner(id.to_string()))
    }

    /// Joins as `id` holding the key whose SHA-256 is `key_hash`: the first key to join with
    /// an id claims it, and later joins need the same key. A key claims one learner. Returns
    /// the learner when the key holds the claim (renaming them to `display_name`), `None` when
    /// another key does or this key already holds another learner's claim.
    /// Safe under concurrent joins: the database decides which key was first.
    pub async fn claim(
        &self,
        id: &LearnerId,
        display_name: &str,
        key_hash: &str,
    ) -> Result<Option<Learner>, ProgressError> {
        let now = now_ms();
        let holder: Option<String> = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(SQL_INSERT_LEARNER)
                .bind(id.as_str())
                .bind(display_name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(SQL_INSERT_KEY)
                .bind(id.as_str())
                .bind(key_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            // None when this key already holds another learner's claim (a key claims one name).
            let holder: Option<String> = sqlx::query_scalar(SQL_KEY_OF)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if holder.as_deref() == Some(key_hash) {
                sqlx::query(SQL_RENAME_LEARNER)
                    .bind(id.as_str())
                    .bind(display_name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            holder
        });
        if holder.as_deref() != Some(key_hash) {
            return Ok(None);
        }
        self.learner(id).await
    }

    /// The learner whose claim the key with this SHA-256 holds, if any.
    pub async fn learner_by_key(&self, key_hash: &str) -> Result<Option<Learner>, ProgressError> {
        on_db!(self, pool => {
            let row = sqlx::query(SQL_LEARNER_BY_KEY).bind(key_hash).fetch_optional(pool).await?;
            row.as_ref().map(learner_from_row).transpose()
        })
    }

    /// The learner with this id, if they joined.
    pub async fn learner(&self, id: &LearnerId) -> Result<Option<Learner>, ProgressError> {
        on_db!(self, pool => {
            let row = sqlx::query(SQL_LEARNER).bind(id.as_str()).fetch_optional(pool).await?;
            row.as_ref().map(learner_from_row).transpose()
        })
    }

    /// Everyone who joined, earliest first.
    pub async fn learners(&self) -> Result<Vec<Learner>, ProgressError> {
        on_db!(self, pool => {
            let rows = sqlx::query(SQL_LEARNERS).fetch_all(pool).await?;
            rows.iter().map(learner_from_row).collect()
        })
    }

    /// Stores a graded attempt and updates the learner's score for the exercise, in one
    /// transaction. When this returns, the attempt is on disk.
    pub async fn record_attempt(&self, new: NewAttempt<'_>) -> Result<Attempt, ProgressError> {
        let now = now_ms();
        let submission = serde_json::to_string(&new.submission)?;
        let feedback = serde_json::to_string(&new.feedback)?;
        let first_passed = new.passed.then_some(now);
        // The same statements in one transaction on either database: a macro, because a
        // function generic over sqlx's `Database` would need a long list of bounds.
        macro_rules! record_in {
            ($pool:expr) => {{
                let mut tx = $pool.begin_write().await?;
                let exists = sqlx::query(SQL_LEARNER)
                    .bind(new.learner.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_none() {
                    return Err(ProgressError::UnknownLearner(new.learner.to_string()));
                }
                let id: i64 = sqlx::query_scalar(SQL_INSERT_ATTEMPT)
                    .bind(new.learner.as_str())
                    .bind(new.lab)
                    .bind(new.exercise)
                    .bind(new.kind)
                    .bind(&submission)
                    .bind(new.passed)
                    .bind(new.score)
                    .bind(&feedback)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(SQL_UPSERT_SCORE)
                    .bind(new.learner.as_str())
                    .bind(new.lab)
                    .bind(new.exercise)
                    .bind(new.score)
                    .bind(new.passed)
                    .bind(first_passed)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                id
            }};
        }
        let id: i64 = match &self.db {
            Db::Sqlite(pool) => record_in!(pool),
            Db::Postgres(pool) => record_in!(pool),
        };
        Ok(Attempt {
            id,
            learner: new.learner.clone(),
            lab: new.lab.to_string(),
            exercise: new.exercise.to_string(),
            kind: new.kind.to_string(),
            submission: new.submission,
            passed: new.passed,
            score: new.score,
            feedback: new.feedback,
            created_at_ms: now,
        })
    }

    /// One attempt by id.
    pub async fn attempt(&self, id: i64) -> Result<Option<Attempt>, ProgressError> {
        on_db!(self, pool => {
            let row = sqlx::query(SQL_ATTEMPT).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(attempt_from_row).transpose()
        })
    }

    /// A learner's latest attempts at one exercise, newest first.
    pub async fn attempts(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        limit: i64,
    ) -> Result<Vec<Attempt>, ProgressError> {
        on_db!(self, pool => {
            let rows = sqlx::query(SQL_ATTEMPTS)
                .bind(learner.as_str())
                .bind(lab)
                .bind(exercise)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(attempt_from_row).collect()
        })
    }

    /// A learner's standing on every exercise they attempted or asked hints for.
    pub async fn scores(&self, learner: &LearnerId) -> Result<Vec<Score>, ProgressError> {
        on_db!(self, pool => {
            let rows = sqlx::query(SQL_SCORES).bind(learner.as_str()).fetch_all(pool).await?;
            rows.iter().map(score_from_row).collect()
        })
    }

    /// Records that the learner has now seen `count` hints of an exercise (never fewer than
    /// before) and returns how many they have seen.
    pub async fn reveal_hints(
        &self,
        learner: &LearnerId,
        lab: &str,
        exercise: &str,
        count: i64,
    ) -> Result<i64, ProgressError> {
        let now = now_ms();
        if self.learner(learner).await?.is_none() {
            return Err(ProgressError::UnknownLearner(learner.to_string()));
        }
        on_db!(self, pool => {
            let revealed: i64 = sqlx::query_scalar(SQL_REVEAL_HINT)
                .bind(learner.as_str())
                .bind(lab)
                .bind(exercise)
                .bind(count)
                .bind(now)
                .fetch_one(pool)
                .await?;
            Ok(revealed)
        })
    }

    /// Forgets a learner's attempts and scores, releases their name and removes them from the
    /// class list (the instructor's reset), in one transaction: a workshop's scenario then
    /// stops planning faults for them.
    pub async fn reset_learner(&self, learner: &LearnerId) -> Result<(), ProgressError> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for statement in [
                SQL_RESET_ATTEMPTS,
                SQL_RESET_SCORES,
                SQL_RELEASE_KEY,
                SQL_RESET_INCIDENTS,
                SQL_REMOVE_LEARNER,
            ] {
                sqlx::query(statement)
                    .bind(learner.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The incident of `lab` the learner is practising on (round 0 until they ask for another).
    pub async fn incident(
        &self,
        learner: &LearnerId,
        lab: &str,
    ) -> Result<Incident, ProgressError> {
        let row: Option<(i64, i64)> = on_db!(self, pool => {
            sqlx::query_as(SQL_INCIDENT)
                .bind(learner.as_str())
                .bind(lab)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(incident_from).unwrap_or_default())
    }

    /// Moves the learner on to the next incident of `lab` and returns it, committed.
    pub async fn next_incident(
        &self,
        learner: &LearnerId,
        lab: &str,
    ) -> Result<Incident, ProgressError> {
        if self.learner(learner).await?.is_none() {
            return Err(ProgressError::UnknownLearner(learner.to_string()));
        }
        let now = now_ms();
        let row: (i64, i64) = on_db!(self, pool => {
            sqlx::query_as(SQL_NEXT_INCIDENT)
                .bind(learner.as_str())
                .bind(lab)
                .bind(now)
                .fetch_one(pool)
                .await?
        });
        Ok(incident_from(row))
    }

    /// Every learner past round 0 of `lab`, with their incident.
    pub async fn incidents(&self, lab: &str) -> Result<Vec<(LearnerId, Incident)>, ProgressError> {
        let rows: Vec<(String, i64, i64)> = on_db!(self, pool => {
            sqlx::query_as(SQL_INCIDENTS).bind(lab).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(id, round, started)| {
                Ok((stored_learner_id(id)?, incident_from((round, started))))
            })
            .collect()
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}
