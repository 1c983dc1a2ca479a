//! The guards hold under `dojo up`: `--admin-token` reaches every service's fault admin API,
//! a card number in a shop URL never reaches the embedded store, and the open-file limit is
//! raised and said.

use std::time::Duration;

use crate::helpers::Lab;

const TOKEN: &str = "e2e-admin-token-7f3a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dojo_up_guards_the_admin_apis_with_its_token_and_stores_no_card_number() {
    let mut lab = Lab::start(&["--admin-token", TOKEN]).await;
    let ports = lab.ports;
    lab.wait_for_output("open-file limit: ", Duration::from_secs(5))
        .await;

    // Every service's fault admin API refuses without the token, and with a wrong one.
    for (service, port) in [
        ("frontend", ports.frontend),
        ("api", ports.api),
        ("payments", ports.payments),
    ] {
        let reset = lab.url(port, "/admin/faults/reset");
        for (what, header) in [
            ("no token", None),
            ("a wrong token", Some("Bearer not-the-token")),
        ] {
            let mut request = lab.http.post(&reset);
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await.expect("the service answers");
            assert_eq!(
                response.status(),
                401,
                "{service}: POST /admin/faults/reset with {what} is refused"
            );
        }
        let response = lab
            .http
            .post(&reset)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the service answers");
        assert_eq!(
            response.status(),
            200,
            "{service}: the reset works with the token"
        );
    }

    // A card number as a product id, through the real shop into the embedded store.
    let (status, _) = lab
        .get(&lab.url(ports.frontend, "/products/4111111111111111"))
        .await;
    assert!(status < 500, "the shop answers ({status})");
    let query =
        r#"{ span.http.route = "/products/{id}" && span.url.path = "/products/[redacted]" }"#;
    let trace_id = lab
        .find_trace(
            "the masked product request in the store",
            query,
            Duration::from_secs(60),
        )
        .await;
    // Let the api's spans of that trace arrive too, then read the whole trace.
    let trace_url = lab.url(ports.tempo, &format!("/api/traces/{trace_id}"));
    let body = lab
        .eventually(
            "the api's spans of the product trace",
            Duration::from_secs(60),
            || async {
                let (status, body) = lab.try_get(&trace_url).await?;
                (status == 200 && body.contains("\"api\"")).then_some(body)
            },
        )
        .await;
    assert!(
        !body.contains("4111111111111111"),
        "no card number is stored: {body}"
    );
    let _ = lab.stop().await;
}
