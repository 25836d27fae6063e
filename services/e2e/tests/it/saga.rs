//! Issue 4's purchase saga end to end through the gateway: every service real, events
//! over the real broker, no fixed sleeps (every asynchronous outcome is polled).

use futures::{StreamExt, future::join_all, stream};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::eventually;

use crate::{
    journey::{
        accept, add_address, add_to_cart, checked_out, manager, order_in, orders, payment_in,
        payments, product, stock,
    },
    shop::{Customer, DEADLINE, Knobs, Shop},
};

#[tokio::test]
async fn a_purchase_goes_from_cart_to_a_delivered_order() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let saber = product(&shop, &vader, "Light Saber", 13.5, 4).await;
    let desk = product(&shop, &vader, "Desk", 25.0, 3).await;
    let customer = checked_out(&shop, "han", &[(saber, 2), (desk, 1)]).await;

    let order = order_in(&shop, &customer, "PREPARING").await;
    assert_eq!(order["address"], "26593 birmingham, uk");
    assert_eq!(order["customerId"], customer.id.as_str());
    let payment = payment_in(&shop, &customer, "APPROVED").await;
    assert_eq!(payment["totalPrice"], 52.0);
    assert_eq!(order["paymentId"], payment["id"]);
    assert_eq!(stock(&shop, &vader, saber).await, 2);
    assert_eq!(stock(&shop, &vader, desk).await, 2);
    let cart: Value = shop
        .get("/payment/cart", &customer.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cart["products"].as_array().unwrap().len(),
        0,
        "the cart is empty"
    );

    let id = order["id"].as_i64().unwrap();
    assert_eq!(
        shop.put(&format!("/order/{id}/ship"), &vader)
            .await
            .status(),
        200
    );
    let delivered = shop
        .send(
            Method::PUT,
            &format!("/order/{id}/deliver"),
            &vader,
            &json!({"recipient": "Han Solo"}),
        )
        .await;
    assert_eq!(delivered.status(), 200);
    order_in(&shop, &customer, "DELIVERED").await;
}

#[tokio::test]
async fn cancelling_an_order_refunds_the_payment_and_restores_the_stock() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let pick = product(&shop, &vader, "Ice Pick", 53.0, 12).await;
    let customer = checked_out(&shop, "leia", &[(pick, 3)]).await;
    let order = order_in(&shop, &customer, "PREPARING").await;
    assert_eq!(stock(&shop, &vader, pick).await, 9);

    let id = order["id"].as_i64().unwrap();
    let cancelled = shop
        .send(Method::PUT, &format!("/order/{id}/cancel"), &customer.token,
            &json!({"cancellationReason": "FOUND_BETTER_ALTERNATIVE", "explanation": "cheaper elsewhere"}))
        .await;
    assert_eq!(cancelled.status(), 200);
    let order = order_in(&shop, &customer, "CANCELLED").await;
    assert_eq!(
        order["cancellation"]["cancellationReason"],
        "FOUND_BETTER_ALTERNATIVE"
    );
    assert_eq!(order["cancellation"]["explanation"], "cheaper elsewhere");
    payment_in(&shop, &customer, "REFUNDED").await;
    eventually("the stock to be restored", DEADLINE, || async {
        (stock(&shop, &vader, pick).await == 12).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_delivered_order_cannot_be_cancelled() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let clipper = product(&shop, &vader, "Clipper", 2.5, 5).await;
    let customer = checked_out(&shop, "luke", &[(clipper, 1)]).await;
    let id = order_in(&shop, &customer, "PREPARING").await["id"]
        .as_i64()
        .unwrap();
    shop.put(&format!("/order/{id}/ship"), &vader).await;
    shop.send(
        Method::PUT,
        &format!("/order/{id}/deliver"),
        &vader,
        &json!({"recipient": "Luke"}),
    )
    .await;
    order_in(&shop, &customer, "DELIVERED").await;

    let refused = shop
        .send(
            Method::PUT,
            &format!("/order/{id}/cancel"),
            &customer.token,
            &json!({"cancellationReason": "DONT_NEED_ANYMORE", "explanation": "too late"}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    order_in(&shop, &customer, "DELIVERED").await;
    assert_eq!(
        payments(&shop, &customer).await[0]["status"],
        "APPROVED",
        "nothing changed"
    );
    assert_eq!(stock(&shop, &vader, clipper).await, 4);
}

#[tokio::test]
async fn a_checkout_that_cannot_be_served_ends_cancelled_with_its_reason() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let skirt = product(&shop, &vader, "Skirt", 20.0, 1).await;
    let pants = product(&shop, &vader, "Pants", 500.0, 7).await;

    // Insufficient stock: someone else's purchase leaves none between cart and checkout.
    let late = shop.new_customer("late").await;
    add_address(&shop, &late).await;
    add_to_cart(&shop, &late, skirt, 1).await;
    let update = shop
        .send(Method::PUT, "/inventory/product", &vader, &json!({"id": skirt, "name": "Skirt", "price": 20, "category": "CLOTHING", "quantity": 0}))
        .await;
    assert_eq!(update.status(), 200);
    accept(&shop, &late).await;
    let payment = payment_in(&shop, &late, "CANCELLED").await;
    assert!(
        payment["cancellationReason"]
            .as_str()
            .unwrap()
            .contains("not available"),
        "{payment}"
    );
    assert_eq!(stock(&shop, &vader, skirt).await, 0, "stock unchanged");

    // A product deleted after it went into the cart.
    let gone = shop.new_customer("gone").await;
    add_address(&shop, &gone).await;
    add_to_cart(&shop, &gone, pants, 1).await;
    let deleted = shop
        .client
        .delete(shop.url(&format!("/inventory/product/{pants}")))
        .bearer_auth(&vader)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    accept(&shop, &gone).await;
    let payment = payment_in(&shop, &gone, "CANCELLED").await;
    assert!(
        payment["cancellationReason"]
            .as_str()
            .unwrap()
            .contains("no longer exists"),
        "{payment}"
    );

    for customer in [&late, &gone] {
        assert_eq!(
            orders(&shop, customer).await.map(|o| o.len()),
            Some(0),
            "no order"
        );
    }
}

#[tokio::test]
async fn a_customer_without_an_address_is_refused_up_front() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let phone = product(&shop, &vader, "Phone", 5.0, 6).await;
    let customer = shop.new_customer("nomad").await;
    add_to_cart(&shop, &customer, phone, 1).await;
    let response = shop
        .send(Method::POST, "/payment/accept", &customer.token, &json!({}))
        .await;
    assert_eq!(response.status(), 409);
    assert!(
        payments(&shop, &customer).await.is_empty(),
        "no payment left PENDING"
    );
    assert_eq!(stock(&shop, &vader, phone).await, 6);
}

#[tokio::test]
async fn twenty_customers_racing_for_the_last_five_units_get_exactly_five_orders() {
    let shop = Shop::start(Knobs::default()).await;
    let vader = manager(&shop).await;
    let laptop = product(&shop, &vader, "Laptop", 3000.0, 5).await;
    let mut customers = Vec::new();
    for n in 0..20 {
        let customer = shop.new_customer(&format!("racer{n}")).await;
        add_address(&shop, &customer).await;
        add_to_cart(&shop, &customer, laptop, 1).await;
        customers.push(customer);
    }
    join_all(customers.iter().map(|customer| accept(&shop, customer))).await;

    let finals = join_all(customers.iter().map(|customer| async {
        eventually("every payment to reach a final state", DEADLINE, || async {
            let all = payments(&shop, customer).await;
            let status = all.first()?["status"].as_str()?.to_owned();
            (status != "PENDING").then_some(status)
        })
        .await
    }))
    .await;
    assert_eq!(finals.iter().filter(|s| *s == "APPROVED").count(), 5);
    assert_eq!(finals.iter().filter(|s| *s == "CANCELLED").count(), 15);
    // Orders follow approvals asynchronously.
    eventually("five orders", DEADLINE, || async {
        let counts = join_all(
            customers
                .iter()
                .map(|customer| async { orders(&shop, customer).await.map(|o| o.len()) }),
        )
        .await;
        (counts.iter().flatten().sum::<usize>() == 5).then_some(())
    })
    .await;
    assert_eq!(stock(&shop, &vader, laptop).await, 0);
}

/// Acceptance 5: every service loses its broker connection while 100 customers check
/// out. Once the connection is back every payment reaches a final state: no event is lost
/// (nothing stays PENDING, every approval has its order) and none is applied twice (the
/// stock sells exactly once: 70 units, 70 approvals, 70 orders, stock 0).
#[tokio::test]
async fn a_broker_outage_during_a_hundred_checkouts_loses_no_event_and_applies_none_twice() {
    const CUSTOMERS: usize = 100;
    const UNITS: i64 = 70;
    const BEFORE_THE_CUT: usize = 30;
    let shop = Shop::start(Knobs {
        broker_proxy: true,
        ..Knobs::default()
    })
    .await;
    let proxy = shop.broker_proxy.as_ref().expect("the broker proxy");
    let vader = manager(&shop).await;
    let lamp = product(&shop, &vader, "Lamp", 20.0, UNITS).await;

    // Filling a cart needs the broker (inventory → payment), so carts come first.
    let customers: Vec<Customer> = stream::iter(0..CUSTOMERS)
        .map(|n| {
            let shop = &shop;
            async move {
                let customer = shop.new_customer(&format!("outage{n}")).await;
                add_address(shop, &customer).await;
                add_to_cart(shop, &customer, lamp, 1).await;
                customer
            }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    // Accepting needs the customer's address in payment's projection.
    let payment_db = shop.database("payment").pool().await;
    eventually("payment to know every address", DEADLINE, || async {
        let known: i64 = sqlx::query_scalar("SELECT count(*) FROM customer")
            .fetch_one(&payment_db)
            .await
            .ok()?;
        (known == CUSTOMERS as i64).then_some(())
    })
    .await;

    let (before, during) = customers.split_at(BEFORE_THE_CUT);
    join_all(before.iter().map(|customer| accept(&shop, customer))).await;
    // Cut while the first checkouts' events are on their way.
    proxy.cut();
    join_all(during.iter().map(|customer| accept(&shop, customer))).await;
    for customer in during {
        assert_eq!(
            payments(&shop, customer).await[0]["status"],
            "PENDING",
            "nothing moves while the broker is unreachable"
        );
    }
    proxy.restore();

    let finals = join_all(customers.iter().map(|customer| async {
        eventually("every payment to reach a final state", DEADLINE, || async {
            let all = payments(&shop, customer).await;
            assert_eq!(all.len(), 1, "one payment per checkout");
            let status = all[0]["status"].as_str()?.to_owned();
            (status != "PENDING").then_some(status)
        })
        .await
    }))
    .await;
    let approved = finals.iter().filter(|s| *s == "APPROVED").count();
    let cancelled = finals.iter().filter(|s| *s == "CANCELLED").count();
    assert_eq!(
        (approved, cancelled),
        (UNITS as usize, CUSTOMERS - UNITS as usize)
    );
    assert_eq!(stock(&shop, &vader, lamp).await, 0);
    // Each approval becomes exactly one order; a cancelled payment none.
    for (customer, status) in customers.iter().zip(&finals) {
        let expected = usize::from(status == "APPROVED");
        let count = eventually("the orders of approved payments", DEADLINE, || async {
            let count = orders(&shop, customer).await?.len();
            (count >= expected).then_some(count)
        })
        .await;
        assert_eq!(count, expected, "orders of {} ({status})", customer.id);
    }
}
