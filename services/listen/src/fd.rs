//! The open-file limit: raised from the soft limit to the hard one at start, because every
//! socket is a descriptor and the usual soft limit (1024) is less than one port's cap.

/// Raises the soft limit on open files as far as the hard limit allows; returns the limit now
/// in force.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Raises the limit and says what it is, for a start-up line in a log.
pub fn raise_fd_limit_and_describe() -> String {
    match raise_fd_limit() {
        Ok(limit) => format!("open-file limit: {limit} descriptors"),
        Err(error) => format!("open-file limit could not be raised: {error}"),
    }
}
