-- Learner progress: who joined, every graded attempt with its feedback, and the best score
-- per exercise. Times are unix milliseconds so one set of queries serves SQLite and PostgreSQL.
CREATE TABLE learners (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner_id TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    lab TEXT NOT NULL,
    exercise TEXT NOT NULL,
    kind TEXT NOT NULL,
    submission TEXT NOT NULL,
    passed BOOLEAN NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    feedback TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX attempts_by_learner ON attempts (learner_id, lab, exercise, id);

CREATE TABLE scores (
    learner_id TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    lab TEXT NOT NULL,
    exercise TEXT NOT NULL,
    best_score DOUBLE PRECISION NOT NULL,
    passed BOOLEAN NOT NULL,
    attempts BIGINT NOT NULL,
    hints_revealed BIGINT NOT NULL,
    first_passed_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (learner_id, lab, exercise)
);
