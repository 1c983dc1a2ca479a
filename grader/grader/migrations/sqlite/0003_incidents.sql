-- Which incident of a lab's fault scenario a learner is practising on. Round 0 (no row) is the
-- variant picked from the lab's seed and the learner's id; after solving it, a learner may ask
-- for another incident, which moves them to the next round: the next variant of the scenario.
-- The instructor's reset forgets it.
CREATE TABLE incidents (
    learner_id TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    lab TEXT NOT NULL,
    round BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    PRIMARY KEY (learner_id, lab)
);
