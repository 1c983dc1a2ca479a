-- Where each alert rule stands, so a restart of the course does not reset every rule to
-- normal: its state, since when, when it was last evaluated, and its latest transitions (a
-- JSON list, oldest first: at_ms, from, to, series, value). Written when the state changes;
-- gone with the rule.
CREATE TABLE alert_rule_states (
    rule_id BIGINT PRIMARY KEY REFERENCES alert_rules (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    evaluated_at_ms BIGINT NOT NULL,
    transitions TEXT NOT NULL
);
