-- A learner's alert rules: each a TraceQL metrics query, a condition against a threshold, how
-- long the condition must hold before the rule fires, and a severity. The course evaluates
-- them continuously; their state lives in the course, the rules here. The instructor's reset
-- forgets them with the learner.
CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner_id TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    condition TEXT NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    for_seconds BIGINT NOT NULL,
    severity TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX alert_rules_by_learner ON alert_rules (learner_id, id);
