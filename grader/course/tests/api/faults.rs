//! The instructor's fault toggles reach the sample services' real admin APIs.

use dojo_course::Secret;
use dojo_course::adapters::faults::ServiceFaults;
use dojo_course::backend::FaultControl;
use dojo_faults::admin::{AdminToken, router};
use dojo_faults::{FaultId, Faults, Service};

const TOKEN: &str = "admin-token-for-tests";

/// Serves one service's admin API on port 0; returns its base URL and its fault registry.
async fn admin(service: Service) -> (String, Faults) {
    let faults = Faults::new(service);
    let app = router(faults.clone(), Some(AdminToken::new(TOKEN.into())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().expect("bound address"));
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the admin API serves")
    });
    (base, faults)
}

#[tokio::test]
async fn faults_are_listed_from_every_service_and_switched_where_they_live() {
    let (api_url, api) = admin(Service::Api).await;
    let (payments_url, payments) = admin(Service::Payments).await;
    let control = ServiceFaults::new(
        vec![("api".into(), api_url), ("payments".into(), payments_url)],
        Some(Secret::new(TOKEN)),
    );

    let listed = control.faults().await.expect("both services answer");
    assert!(
        listed
            .iter()
            .any(|f| f.id == "slow_query" && f.service == "api" && !f.enabled)
    );
    assert!(
        listed
            .iter()
            .any(|f| f.id == "payments_failing" && f.service == "payments")
    );

    control
        .set("payments_failing", true)
        .await
        .expect("switched on");
    assert!(
        payments.active(FaultId::PaymentsFailing).is_some(),
        "payments has it on"
    );
    assert!(api.active(FaultId::SlowQuery).is_none(), "api is untouched");
    let listed = control.faults().await.expect("both services answer");
    assert!(
        listed
            .iter()
            .any(|f| f.id == "payments_failing" && f.enabled)
    );

    control
        .set("payments_failing", false)
        .await
        .expect("switched off");
    assert!(payments.active(FaultId::PaymentsFailing).is_none());

    let error = control
        .set("no_such_fault", true)
        .await
        .expect_err("unknown fault");
    assert!(
        error.0.contains("no service offers a fault called"),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_admin_token_is_reported_not_ignored() {
    let (api_url, _) = admin(Service::Api).await;
    let control = ServiceFaults::new(vec![("api".into(), api_url)], Some(Secret::new("wrong")));
    let error = control.faults().await.expect_err("refused");
    assert!(
        error.0.contains("api refused to list its faults (401"),
        "{error}"
    );
}
