-- A learner's name is claimed by the browser that joined with it first: that browser keeps a
-- random key in a cookie, and only its SHA-256 is stored here. Joining with a claimed name
-- needs the key (the browser's cookie, or the rejoin code shown to the learner), so nobody
-- can read another learner's submissions by typing their name. The instructor's reset
-- releases the claim.
CREATE TABLE learner_keys (
    learner_id TEXT PRIMARY KEY NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
