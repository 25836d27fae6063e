//! Outages: the database goes away and comes back; requests get 503 meanwhile and the
//! service recovers without a restart.

use reqwest::{Method, StatusCode};
use testkit::eventually;

use crate::helpers::{DEADLINE, Options, TOMMY, TestApp};

#[tokio::test]
async fn a_database_outage_answers_503_and_the_service_recovers_by_itself() {
    let app = TestApp::spawn_with(Options {
        database_proxy: true,
        ..Options::default()
    })
    .await;
    let proxy = app.db_proxy.as_ref().expect("proxy");
    assert_eq!(app.readiness().await.0, StatusCode::OK);
    let token = app.customer(TOMMY);

    proxy.cut();
    eventually(
        "readiness to report the database down",
        DEADLINE,
        || async { (app.readiness().await.0 == StatusCode::SERVICE_UNAVAILABLE).then_some(()) },
    )
    .await;
    assert_eq!(
        app.readiness().await.1["checks"]["database"]["status"],
        "DOWN"
    );
    for (method, path) in [
        (Method::GET, "/payment/ofCurrentCustomer"),
        (Method::POST, "/payment/accept"),
        (Method::DELETE, "/payment/cart/clear"),
    ] {
        let response = app.send(method.clone(), path, &token, None).await;
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "UNAVAILABLE");
    }

    proxy.restore();
    eventually("the service to recover", DEADLINE, || async {
        (app.readiness().await.0 == StatusCode::OK).then_some(())
    })
    .await;
    let response = app.get("/payment/ofCurrentCustomer", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
}
