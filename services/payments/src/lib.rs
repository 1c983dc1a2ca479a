//! Stands in for an external payments provider whose latency and failures are faults.
