-- A learner's dashboard: panels, each a TraceQL metrics query drawn as a time-series chart,
-- in the order the learner arranged them. The instructor's reset forgets them with the learner.
CREATE TABLE dashboard_panels (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    query TEXT NOT NULL,
    unit TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX dashboard_panels_by_learner ON dashboard_panels (learner_id, position);
