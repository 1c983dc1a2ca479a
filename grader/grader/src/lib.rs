//! The grader: lab specs, the three kinds of check against live traces, and learner progress.
