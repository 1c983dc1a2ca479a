//! Realistic user journeys against the frontend, with progress and a latency summary.
