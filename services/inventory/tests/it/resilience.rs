//! Outages: the broker and the database go away and come back; nothing is lost and the
//! service recovers without a restart.

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::{TcpProxy, eventually, infra::infra};

use crate::helpers::{DEADLINE, Options, TestApp, channel, depth, take};

async fn ready_status(app: &TestApp) -> StatusCode {
    app.readiness().await.0
}

#[tokio::test]
async fn add_to_cart_commits_while_the_broker_is_down_and_the_event_goes_out_once_it_is_back() {
    let amqp_url = infra().await.amqp_url.clone();
    let proxy = TcpProxy::in_front_of(&amqp_url).await.unwrap();
    let app = TestApp::spawn_with(Options {
        amqp_url: Some(proxy.url_through(&amqp_url)),
        ..Options::default()
    })
    .await;
    // The topology is declared before the outage.
    testkit::until_ready(&app.client, &app.base, DEADLINE).await;
    let id = app.product("Clipper", "2.5", 1).await;

    proxy.cut();
    let response = app
        .send_json(
            Method::POST,
            &format!("/inventory/product/{id}/addToCart"),
            &app.customer(),
            &json!({"quantity": 1}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the request commits without the broker"
    );
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 1, "the event waits in the outbox");

    proxy.restore();
    let (_conn, ch) = channel(&app.broker.url).await;
    let queue = app.queue("payment.product.available");
    let event = take(&ch, &queue, 1).await.remove(0);
    assert_eq!(event.body["payload"]["id"], id);
    eventually(
        "the outbox row to be marked published",
        DEADLINE,
        || async {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&app.pool)
                    .await
                    .ok()?;
            (pending == 0).then_some(())
        },
    )
    .await;
    assert_eq!(depth(&ch, &queue).await, 0, "published exactly once");
}

#[tokio::test]
async fn readiness_is_503_while_postgres_is_unreachable_and_recovers_without_a_restart() {
    let admin = infra().await.database_url.clone();
    let proxy = TcpProxy::in_front_of(&admin).await.unwrap();
    // The database name is only known once the test database exists, so build the app
    // first through the proxy to a database of its own.
    let mut app = TestApp::spawn().await;
    let via_proxy = proxy.url_through(&app.db.url);
    app.stop().await;
    let app = TestApp::spawn_with(Options {
        database_url: Some(via_proxy),
        ..Options::default()
    })
    .await;
    assert_eq!(ready_status(&app).await, StatusCode::OK);

    proxy.cut();
    eventually(
        "readiness to report the database down",
        DEADLINE,
        || async { (ready_status(&app).await == StatusCode::SERVICE_UNAVAILABLE).then_some(()) },
    )
    .await;
    let report = app.readiness().await.1;
    assert_eq!(report["checks"]["database"]["status"], "DOWN");
    let during = app
        .get("/inventory/product?pageNumber=0", &app.customer())
        .await;
    assert_eq!(
        during.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a dependency outage is 503, not 500"
    );

    proxy.restore();
    eventually("readiness to recover", DEADLINE, || async {
        (ready_status(&app).await == StatusCode::OK).then_some(())
    })
    .await;
    assert_eq!(
        app.get("/inventory/product?pageNumber=0", &app.customer())
            .await
            .status(),
        StatusCode::OK
    );
}
