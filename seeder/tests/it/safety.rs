//! Refusals: each is reported clearly and leaves the databases untouched.

use std::process::Command;

use seeder::{RunOptions, Safety, Service, Targets};

use crate::helpers::{Scratch, options, tiny_plan};

fn targets(url: impl Fn(Service) -> String) -> Targets {
    let urls: Vec<(Service, String)> = Service::ALL.iter().map(|s| (*s, url(*s))).collect();
    let borrowed: Vec<(Service, &str)> = urls.iter().map(|(s, u)| (*s, u.as_str())).collect();
    Targets::from_urls(&borrowed).expect("valid URLs")
}

async fn untouched(scratch: &Scratch) {
    assert!(
        !scratch.has_bookkeeping().await,
        "the seeder wrote its bookkeeping"
    );
    assert_eq!(scratch.count(Service::Identity, "user_entity").await, 0);
    assert_eq!(scratch.count(Service::Payment, "payment").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_empty_tables_are_refused_and_nothing_is_written() {
    let scratch = Scratch::migrated().await;
    let inventory = scratch.pool(Service::Inventory).await;
    sqlx::query(
        "INSERT INTO product (name, price, category, quantity) VALUES ('Desk', 25, 'FURNITURE', 3)",
    )
    .execute(&inventory)
    .await
    .unwrap();
    let err = seeder::run(&tiny_plan(1), &scratch.targets, &options(2))
        .await
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("inventory.product"), "{message}");
    assert!(message.contains("--append"), "{message}");
    untouched(&scratch).await;
    assert_eq!(scratch.count(Service::Inventory, "product").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unconfirmed_remote_host_is_refused_before_connecting() {
    let targets = targets(|s| {
        format!(
            "postgres://seeder:secret@db.prod.example.invalid:5432/{}",
            s.name()
        )
    });
    let err = seeder::run(&tiny_plan(1), &targets, &RunOptions::default())
        .await
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("--confirm-host db.prod.example.invalid"),
        "{message}"
    );
    assert!(message.contains("nothing was written"), "{message}");
    assert!(
        !message.contains("secret"),
        "the password leaked: {message}"
    );
    let err = seeder::reset(&targets, &Safety::default())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--confirm-host"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_ca_file_is_refused_and_nothing_is_written() {
    let scratch = Scratch::migrated().await;
    let targets = targets(|s| {
        format!(
            "{}?sslmode=verify-full&sslrootcert=/nonexistent/rds-bundle.pem",
            scratch.url(s)
        )
    });
    let err = seeder::run(&tiny_plan(1), &targets, &options(2))
        .await
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("the CA file /nonexistent/rds-bundle.pem"),
        "{message}"
    );
    untouched(&scratch).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_prints_the_plan_and_touches_nothing() {
    let scratch = Scratch::migrated().await;
    let output = Command::new(env!("CARGO_BIN_EXE_seeder"))
        .envs(scratch.env())
        .args(["run", "--profile", "medium", "--dry-run"])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "nothing is written",
        "payment_product",
        "estimated time",
        "60000 users",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    untouched(&scratch).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_empties_the_tables_and_restores_what_an_interrupted_run_dropped() {
    let (scratch, pristine) = tokio::join!(Scratch::migrated(), Scratch::migrated());
    let plan = tiny_plan(2);
    seeder::run(&plan, &scratch.targets, &options(2))
        .await
        .expect("load");
    // Pretend the run was interrupted before it rebuilt the indexes.
    let payment = scratch.pool(Service::Payment).await;
    sqlx::query("ALTER TABLE payment_product DROP CONSTRAINT payment_product_pkey")
        .execute(&payment)
        .await
        .unwrap();
    sqlx::query("UPDATE seeder_run SET state = 'loading'")
        .execute(&payment)
        .await
        .unwrap();

    seeder::reset(&scratch.targets, &Safety::default())
        .await
        .expect("reset");
    untouched(&scratch).await;
    assert_eq!(
        scratch.schema_objects().await,
        pristine.schema_objects().await
    );
    // And the databases take a new run.
    seeder::run(&plan, &scratch.targets, &options(2))
        .await
        .expect("load after reset");
}
