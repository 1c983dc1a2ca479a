//! What the payments handlers share: the fault toggles. Its own file so the route and the
//! router both take it from below.

use dojo_faults::Faults;

/// What handlers share: the fault toggles.
#[derive(Debug, Clone)]
pub struct AppState {
    pub faults: Faults,
    /// Guards the admin API when set.
    pub admin_token: Option<dojo_faults::admin::AdminToken>,
}
