//! The state every api handler shares (database, payments client, fault toggles) and the
//! faults applied before every route. Its own file so route modules and the router both take it
//! from below.

use dojo_faults::{FaultId, Faults};
use dojo_telemetry::propagation::Caller;

use crate::db::{Conn, Db};
use crate::error::{ApiError, from_acquire};
use crate::payments::PaymentsClient;

/// What every handler shares; cheap handles only.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub faults: Faults,
    /// Guards the admin API when set.
    pub admin_token: Option<dojo_faults::admin::AdminToken>,
    pub payments: PaymentsClient,
}

impl AppState {
    /// Faults that hit a request before it does any work: `intermittent_latency` (a stall
    /// with no child span to blame) and `error_rate` (when `route` is the chosen one).
    pub async fn before(&self, caller: &Caller, route: &'static str) -> Result<(), ApiError> {
        let learner = caller.learner_id.as_deref();
        if let Some(fault) = self.faults.fires(FaultId::IntermittentLatency, learner) {
            tokio::time::sleep(fault.millis("delay_ms")).await;
        }
        let targeted = self
            .faults
            .active(FaultId::ErrorRate)
            .is_some_and(|fault| fault.choice("route") == route);
        if targeted && self.faults.fires(FaultId::ErrorRate, learner).is_some() {
            return Err(ApiError::Injected {
                kind: "InventoryServiceError",
                message: format!("the inventory check for {route} failed"),
            });
        }
        Ok(())
    }

    /// A pooled connection; with `pool_exhaustion` on, the request keeps it busy for a while
    /// first (a slow transaction), so other requests wait in `db.pool.acquire`.
    pub async fn connection(&self, caller: &Caller) -> Result<Conn, ApiError> {
        let conn = self.db.acquire().await.map_err(from_acquire)?;
        if let Some(fault) = self
            .faults
            .fires(FaultId::PoolExhaustion, caller.learner_id.as_deref())
        {
            tokio::time::sleep(fault.millis("hold_ms")).await;
        }
        Ok(conn)
    }
}
