//! Loading: the small profile, determinism across `--jobs` and shards, appending.

use seeder::{Plan, Profile, RunOptions, Service, Shard, generate};

use crate::helpers::{Scratch, options, tiny_plan};

#[tokio::test(flavor = "multi_thread")]
async fn the_small_profile_loads_into_blank_databases_and_verifies() {
    let scratch = Scratch::blank().await;
    let plan = Plan::profile(Profile::Small, 1);
    let report = seeder::run(
        &plan,
        &scratch.targets,
        &RunOptions {
            jobs: 3,
            ..RunOptions::default()
        },
    )
    .await
    .expect("the small profile loads");
    assert!(report.finished);
    let estimated = plan.estimated_rows() as f64;
    assert!(
        (report.rows() as f64 / estimated - 1.0).abs() < 0.1,
        "loaded {} rows, planned about {estimated}",
        report.rows()
    );
    assert_eq!(scratch.count(Service::Identity, "user_entity").await, 6_000);
    let checksums = scratch.checksums().await;
    assert_eq!(checksums["payment.payment"].0, 18_000);
    // The services' sequences go on after the seeded ids.
    let pool = scratch.pool(Service::Payment).await;
    let next: i64 = sqlx::query_scalar("SELECT nextval('payment_id_seq')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(next, 18_001);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_gives_the_same_data_whatever_the_number_of_jobs() {
    let (one, four) = tokio::join!(Scratch::migrated(), Scratch::migrated());
    let plan = tiny_plan(11);
    seeder::run(&plan, &one.targets, &options(1))
        .await
        .expect("one job");
    seeder::run(
        &plan,
        &four.targets,
        &RunOptions {
            chunk_size: 37,
            ..options(4)
        },
    )
    .await
    .expect("four jobs");
    let checksums = one.checksums().await;
    assert_eq!(checksums, four.checksums().await);
    assert!(
        checksums.values().all(|(rows, _)| *rows > 0),
        "{checksums:?}"
    );

    // And another seed gives other data.
    let other = Scratch::migrated().await;
    seeder::run(&tiny_plan(12), &other.targets, &options(2))
        .await
        .expect("seed 12");
    assert_ne!(
        checksums["identity.user_entity"],
        other.checksums().await["identity.user_entity"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_shards_together_load_exactly_what_one_process_loads() {
    let (sharded, single) = tokio::join!(Scratch::migrated(), Scratch::migrated());
    let plan = tiny_plan(5);
    let shard = |index| RunOptions {
        shard: Shard { index, count: 2 },
        ..options(2)
    };
    let (zero, one) = (shard(0), shard(1));
    let (first, second) = tokio::join!(
        seeder::run(&plan, &sharded.targets, &zero),
        seeder::run(&plan, &sharded.targets, &one),
    );
    let (first, second) = (first.expect("shard 0/2"), second.expect("shard 1/2"));
    assert!(
        first.finished || second.finished,
        "the last shard finishes the run"
    );
    assert!(
        first.rows() > 0 && second.rows() > 0,
        "both shards loaded a slice"
    );
    seeder::run(&plan, &single.targets, &options(2))
        .await
        .expect("single process");
    assert_eq!(sharded.checksums().await, single.checksums().await);
    assert_eq!(
        sharded.schema_objects().await,
        single.schema_objects().await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn appending_adds_a_second_plan_after_the_first_without_collisions() {
    let scratch = Scratch::migrated().await;
    let first = tiny_plan(1);
    seeder::run(&first, &scratch.targets, &options(2))
        .await
        .expect("first load");
    let refused = seeder::run(&tiny_plan(1), &scratch.targets, &options(2))
        .await
        .unwrap_err();
    assert!(format!("{refused:#}").contains("--append"), "{refused:#}");

    let second = Plan::with_counts(1, 100, 10, 300);
    let report = seeder::run(
        &second,
        &scratch.targets,
        &RunOptions {
            append: true,
            ..options(2)
        },
    )
    .await
    .expect("append");
    assert_eq!(report.plan.offsets.users, 400);
    assert_eq!(report.plan.offsets.payments, 1_200);
    assert_eq!(scratch.count(Service::Identity, "user_entity").await, 500);
    assert_eq!(scratch.count(Service::Payment, "payment").await, 1_500);
    // The appended users are the plan's users with the offsets the run picked.
    let appended = generate::user(&report.plan, 0);
    let pool = scratch.pool(Service::Identity).await;
    let stored: String = sqlx::query_scalar("SELECT username FROM user_entity WHERE id = $1")
        .bind(appended.id)
        .fetch_one(&pool)
        .await
        .expect("the appended user");
    assert_eq!(stored, appended.username);
    scratch.checksums().await;
}
