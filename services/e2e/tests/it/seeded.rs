//! Issue 5, acceptance 2: the shop started on seeded databases works. A seeded customer
//! logs in through the gateway with the load-test password and sees the addresses,
//! payments and orders the seeder's generators say they have.

use seeder::{Plan, generate};

use crate::{
    journey::list,
    shop::{Knobs, Shop, access_token},
};

#[tokio::test]
async fn a_seeded_customer_logs_in_through_the_gateway_and_sees_their_data() {
    let plan = Plan::with_counts(7, 40, 25, 150);
    let shop = Shop::start(Knobs {
        seed: Some(plan.clone()),
        ..Knobs::default()
    })
    .await;

    // A customer whose payment became an order.
    let index = (0..plan.payments)
        .find(|&i| generate::order(&plan, i).is_some())
        .expect("the plan has orders");
    let payment = generate::payment(&plan, index);
    let order = generate::order(&plan, index).expect("an order");
    let user = generate::user(&plan, payment.customer);
    let token = access_token(
        &shop
            .login(&user.username, generate::LOAD_TEST_PASSWORD)
            .await,
    );

    let addresses = list(&shop, "/account/address", &token).await;
    let expected = generate::addresses(&plan, payment.customer);
    assert_eq!(addresses.len(), expected.len(), "{addresses:?}");
    let primary = expected.iter().find(|a| a.is_primary).expect("a primary");
    assert!(
        addresses.iter().any(|a| a["city"] == primary.city.as_str()),
        "the primary address in {addresses:?}"
    );

    let payments = list(&shop, "/payment/ofCurrentCustomer", &token).await;
    let seen = payments
        .iter()
        .find(|p| p["id"] == payment.id)
        .unwrap_or_else(|| panic!("payment {} in {payments:?}", payment.id));
    assert_eq!(seen["customerId"], user.id.to_string());
    assert_eq!(
        seen["status"],
        serde_json::to_value(payment.status).unwrap()
    );
    assert_eq!(
        seen["totalPrice"].as_f64(),
        payment.total_price.to_string().parse::<f64>().ok()
    );
    assert_eq!(
        seen["products"].as_array().map(Vec::len),
        Some(payment.lines.len())
    );
    assert!(
        payments
            .iter()
            .all(|p| p["customerId"] == user.id.to_string()),
        "only their own payments"
    );

    let orders = list(&shop, "/order/ofCurrentCustomer", &token).await;
    let seen = orders
        .iter()
        .find(|o| o["id"] == order.id)
        .unwrap_or_else(|| panic!("order {} in {orders:?}", order.id));
    assert_eq!(seen["paymentId"], payment.id);
    assert_eq!(seen["status"], serde_json::to_value(order.status).unwrap());
}
