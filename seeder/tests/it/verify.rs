//! `verify` names every broken rule, and the binary exits non-zero.

use std::process::Command;

use seeder::{Service, VerifyOptions};

use crate::helpers::{Scratch, options, tiny_plan};

#[tokio::test(flavor = "multi_thread")]
async fn verify_lists_broken_references_and_rules_readably() {
    let scratch = Scratch::migrated().await;
    let plan = tiny_plan(3);
    seeder::run(&plan, &scratch.targets, &options(2))
        .await
        .expect("load");
    let clean = seeder::verify(&scratch.targets, &VerifyOptions::default())
        .await
        .expect("verify");
    assert!(clean.passed(), "{clean}");

    // Break one rule of each kind, in three databases.
    let first = seeder::generate::payment(&plan, 0);
    let product = first.lines[0].product_id;
    let inventory = scratch.pool(Service::Inventory).await;
    sqlx::query("DELETE FROM product WHERE id = $1")
        .bind(product)
        .execute(&inventory)
        .await
        .unwrap();
    let payment = scratch.pool(Service::Payment).await;
    sqlx::query("UPDATE payment SET total_price = total_price + 1 WHERE id = $1")
        .bind(first.id)
        .execute(&payment)
        .await
        .unwrap();
    let account = scratch.pool(Service::Account).await;
    let customer = seeder::generate::user_id(&plan, 0).to_string();
    sqlx::query("UPDATE address SET city = 'Elsewhere' WHERE customer_id = $1 AND is_primary")
        .bind(&customer)
        .execute(&account)
        .await
        .unwrap();

    let broken = seeder::verify(&scratch.targets, &VerifyOptions::default())
        .await
        .expect("verify");
    let report = broken.to_string();
    let rules: Vec<&str> = broken.violations.iter().map(|v| v.rule).collect();
    assert!(rules.contains(&"payment line → product"), "{report}");
    assert!(
        rules.contains(&"payment total = Σ price × quantity"),
        "{report}"
    );
    assert!(
        rules.contains(&"customer projection → primary address"),
        "{report}"
    );
    assert!(
        report.contains(&format!("product {product} does not exist")),
        "{report}"
    );
    assert!(
        report.contains(&format!("payment {}: total", first.id)),
        "{report}"
    );
    assert!(report.contains(&customer), "{report}");

    let output = Command::new(env!("CARGO_BIN_EXE_seeder"))
        .envs(scratch.env())
        .arg("verify")
        .output()
        .expect("runs");
    assert!(
        !output.status.success(),
        "verify exits non-zero on violations"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("rules broken"));
}
