//! Browser tests (written next).
