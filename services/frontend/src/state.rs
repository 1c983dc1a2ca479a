//! The state every frontend handler shares: the api client and the fault toggles, and the two
//! faults decided per request (`broken_propagation` and `cpu_heavy`). Its own file so route
//! modules and the router both take it from below.

use dojo_faults::{FaultId, Faults};
use dojo_telemetry::propagation::Caller;

use crate::api_client::{ApiClient, Hop};

/// What every handler shares; cheap handles only.
#[derive(Debug, Clone)]
pub struct AppState {
    pub api: ApiClient,
    pub faults: Faults,
    /// Guards the admin API when set.
    pub admin_token: Option<dojo_faults::admin::AdminToken>,
}

impl AppState {
    /// Whether this request's calls to the api carry the trace context.
    pub fn hop(&self, caller: &Caller) -> Hop {
        let broken = self
            .faults
            .fires(FaultId::BrokenPropagation, caller.learner_id.as_deref());
        Hop {
            propagate: broken.is_none(),
        }
    }

    /// Product recommendations beside a product page. Normally free; with `cpu_heavy` on it
    /// burns CPU in the handler's own time (no child span to blame), off the async threads.
    pub async fn recommendations(&self, caller: &Caller) {
        if let Some(fault) = self
            .faults
            .fires(FaultId::CpuHeavy, caller.learner_id.as_deref())
        {
            let budget = fault.millis("work_ms");
            let _ =
                tokio::task::spawn_blocking(move || dojo_faults::effects::burn_cpu(budget)).await;
        }
    }
}
