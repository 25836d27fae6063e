//! The address rules (A7–A11) and the `address.primary-saved` events they publish,
//! consumed from payment's queue on the real broker.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{DEADLINE, PRIMARY_SAVED_QUEUE, TestApp, body, channel, take};

fn customer() -> String {
    Uuid::new_v4().to_string()
}

async fn ready(app: &TestApp) {
    // Readiness connects to the broker and declares the topology (payment's queue too).
    testkit::until_ready(&app.client, &app.base, DEADLINE).await;
}

fn primary_saved(customer_id: &str, address: &str) -> Value {
    json!({"customerId": customer_id, "address": address})
}

#[tokio::test]
async fn the_first_address_becomes_primary_and_is_announced_to_payment() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = customer();
    let token = app.customer_token(&id);
    let home = app.add_address(&token, "home", "birmingham").await;
    assert_eq!(home["name"], "home");
    assert_eq!(home["country"], "uk");
    assert_eq!(home["city"], "birmingham");
    assert_eq!(home["zipCode"], "26593");
    assert_eq!(home["isPrimary"], true);
    assert!(home["id"].is_i64());

    let (_conn, ch) = channel(&app.broker.url).await;
    let event = take(&ch, &app.queue(PRIMARY_SAVED_QUEUE), 1)
        .await
        .remove(0);
    assert_eq!(event["eventType"], "PrimaryAddressSaved");
    assert_eq!(event["version"], 1);
    assert_eq!(event["payload"], primary_saved(&id, "26593 birmingham, uk"));

    let work = app.add_address(&token, "work", "london").await;
    assert_eq!(
        work["isPrimary"], false,
        "only the first address is primary"
    );
    assert_eq!(
        app.outbox().await.len(),
        1,
        "a second address is not announced"
    );

    let listed = body(app.get("/account/address?pageNumber=0", &token).await).await;
    assert_eq!(listed, json!([home, work]));
}

#[tokio::test]
async fn concurrent_first_addresses_still_make_exactly_one_primary() {
    let app = TestApp::spawn().await;
    let id = customer();
    let token = app.customer_token(&id);
    let bodies: Vec<Value> = (0..8)
        .map(|n| json!({"name": format!("address {n}"), "country": "uk", "city": "b", "zipCode": "1"}))
        .collect();
    let responses = join_all(
        bodies
            .iter()
            .map(|body| app.send(Method::POST, "/account/address", &token, Some(body))),
    )
    .await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    let stored = app.stored(&id).await;
    assert_eq!(stored.len(), 8);
    assert_eq!(stored.iter().filter(|(_, primary)| *primary).count(), 1);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn renaming_an_address_works_and_a_change_of_the_primary_one_is_announced() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = customer();
    let token = app.customer_token(&id);
    let home = app.add_address(&token, "home", "birmingham").await;
    let work = app.add_address(&token, "work", "london").await;

    let renamed = app
        .send(
            Method::PUT,
            "/account/address",
            &token,
            Some(&json!({"id": work["id"], "name": "office", "country": "uk", "city": "london", "zipCode": "E1"})),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        body(renamed).await,
        json!({"id": work["id"], "name": "office", "country": "uk", "city": "london", "zipCode": "E1", "isPrimary": false})
    );
    assert_eq!(
        app.outbox().await.len(),
        1,
        "not the primary address: no event"
    );

    let moved = app
        .send(
            Method::PUT,
            "/account/address",
            &token,
            Some(&json!({"id": home["id"], "name": "home", "country": "finland", "city": "helsinki", "zipCode": "48249"})),
        )
        .await;
    assert_eq!(body(moved).await["isPrimary"], true, "the flag is kept");
    let (_conn, ch) = channel(&app.broker.url).await;
    let events = take(&ch, &app.queue(PRIMARY_SAVED_QUEUE), 2).await;
    assert_eq!(
        events[1]["payload"],
        primary_saved(&id, "48249 helsinki, finland")
    );
    assert_eq!(
        app.stored(&id).await,
        vec![("home".to_owned(), true), ("office".to_owned(), false)]
    );
}

#[tokio::test]
async fn a_duplicate_name_is_409_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let id = customer();
    let token = app.customer_token(&id);
    app.add_address(&token, "home", "birmingham").await;
    let work = app.add_address(&token, "work", "london").await;

    let duplicate = app
        .send(
            Method::POST,
            "/account/address",
            &token,
            Some(&json!({"name": "home", "country": "uk", "city": "leeds", "zipCode": "1"})),
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert_eq!(
        body(duplicate).await,
        json!({"message": "The address with the same name is already added.", "resultType": "ERROR", "code": "CONFLICT"})
    );
    let rename_onto = app
        .send(
            Method::PUT,
            "/account/address",
            &token,
            Some(&json!({"id": work["id"], "name": " home ", "country": "uk", "city": "london", "zipCode": "E1"})),
        )
        .await;
    assert_eq!(rename_onto.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.stored(&id).await,
        vec![("home".to_owned(), true), ("work".to_owned(), false)]
    );
    let city: String = sqlx::query_scalar("SELECT city FROM address WHERE id = $1")
        .bind(work["id"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(city, "london");
    assert_eq!(
        app.outbox().await.len(),
        1,
        "only the first address's event"
    );

    // Another customer may use the same name.
    let other = app.customer_token(&customer());
    app.add_address(&other, "home", "paris").await;
}

#[tokio::test]
async fn deleting_the_primary_address_promotes_the_oldest_remaining_one_and_announces_it() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = customer();
    let token = app.customer_token(&id);
    let home = app.add_address(&token, "home", "birmingham").await;
    let work = app.add_address(&token, "work", "london").await;
    app.add_address(&token, "cabin", "leeds").await;

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/account/address/{}", home["id"]),
            &token,
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        body(deleted).await,
        json!({"message": "Address is removed.", "resultType": "SUCCESS"})
    );
    assert_eq!(
        app.stored(&id).await,
        vec![("work".to_owned(), true), ("cabin".to_owned(), false)]
    );
    let (_conn, ch) = channel(&app.broker.url).await;
    let events = take(&ch, &app.queue(PRIMARY_SAVED_QUEUE), 2).await;
    assert_eq!(events[1]["payload"], primary_saved(&id, "26593 london, uk"));

    // Deleting an address that is not primary changes no primary and announces nothing.
    let listed = body(app.get("/account/address", &token).await).await;
    let cabin = listed[1]["id"].clone();
    app.send(
        Method::DELETE,
        &format!("/account/address/{cabin}"),
        &token,
        None,
    )
    .await;
    assert_eq!(app.stored(&id).await, vec![("work".to_owned(), true)]);
    assert_eq!(app.outbox().await.len(), 2);

    // The last address can go too; then there is nothing left to promote.
    app.send(
        Method::DELETE,
        &format!("/account/address/{}", work["id"]),
        &token,
        None,
    )
    .await;
    assert!(app.stored(&id).await.is_empty());
    let fresh = app.add_address(&token, "new home", "york").await;
    assert_eq!(
        fresh["isPrimary"], true,
        "the next address is the first again"
    );
}

#[tokio::test]
async fn set_primary_swaps_the_primary_address_and_announces_it() {
    let app = TestApp::spawn().await;
    ready(&app).await;
    let id = customer();
    let token = app.customer_token(&id);
    app.add_address(&token, "home", "birmingham").await;
    let work = app.add_address(&token, "work", "london").await;

    let response = app
        .send(
            Method::PUT,
            &format!("/account/address/{}/setPrimary", work["id"]),
            &token,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"message": "Your address work is set to primary.", "resultType": "SUCCESS"})
    );
    assert_eq!(
        app.stored(&id).await,
        vec![("home".to_owned(), false), ("work".to_owned(), true)]
    );
    let (_conn, ch) = channel(&app.broker.url).await;
    let events = take(&ch, &app.queue(PRIMARY_SAVED_QUEUE), 2).await;
    assert_eq!(events[1]["payload"], primary_saved(&id, "26593 london, uk"));

    let again = app
        .send(
            Method::PUT,
            &format!("/account/address/{}/setPrimary", work["id"]),
            &token,
            None,
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        body(again).await,
        json!({"message": "This address is already a primary address.", "resultType": "ERROR", "code": "CONFLICT"})
    );
    assert_eq!(
        app.outbox().await.len(),
        2,
        "nothing announced for the refusal"
    );
}

#[tokio::test]
async fn someone_elses_address_is_404_for_every_operation_and_stays_untouched() {
    let app = TestApp::spawn().await;
    let owner = customer();
    let owner_token = app.customer_token(&owner);
    app.add_address(&owner_token, "home", "birmingham").await;
    let work = app.add_address(&owner_token, "work", "london").await;
    let intruder = app.customer_token(&customer());
    let work_id = &work["id"];
    let attempts = [
        app.send(
            Method::PUT,
            "/account/address",
            &intruder,
            Some(&json!({"id": work_id, "name": "mine", "country": "uk", "city": "b", "zipCode": "1"})),
        )
        .await,
        app.send(Method::DELETE, &format!("/account/address/{work_id}"), &intruder, None)
            .await,
        app.send(
            Method::PUT,
            &format!("/account/address/{work_id}/setPrimary"),
            &intruder,
            None,
        )
        .await,
        app.send(Method::DELETE, "/account/address/424242", &owner_token, None)
            .await,
        app.send(Method::PUT, "/account/address/424242/setPrimary", &owner_token, None)
            .await,
    ];
    for response in attempts {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            body(response).await,
            json!({"message": "Address not found!", "resultType": "ERROR", "code": "NOT_FOUND"})
        );
    }
    assert_eq!(
        app.stored(&owner).await,
        vec![("home".to_owned(), true), ("work".to_owned(), false)]
    );
    let listed = body(app.get("/account/address", &intruder).await).await;
    assert_eq!(
        listed,
        json!([]),
        "nobody sees another customer's addresses"
    );
}

#[tokio::test]
async fn addresses_are_paged_in_id_order() {
    let app = TestApp::spawn().await;
    let token = app.customer_token(&customer());
    for n in 0..12 {
        app.add_address(&token, &format!("a{n:02}"), "b").await;
    }
    let first = body(app.get("/account/address?pageNumber=0", &token).await).await;
    let names: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10, "the default page size is 10");
    assert_eq!(names[0], "a00");
    let second = body(
        app.get("/account/address?pageNumber=1&pageSize=10", &token)
            .await,
    )
    .await;
    let names: Vec<&str> = second
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a10", "a11"]);
}
