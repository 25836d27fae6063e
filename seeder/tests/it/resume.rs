//! A run killed with SIGKILL half-way, then resumed, ends with exactly the data of an
//! uninterrupted run.

use std::process::{Command, Stdio};

use seeder::{Plan, Service};

use crate::helpers::{DEADLINE, Scratch, options};

fn seeder(scratch: &Scratch) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seeder"));
    command
        .envs(scratch.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

async fn committed_chunks(scratch: &Scratch) -> i64 {
    let pool = scratch.pool(Service::Payment).await;
    let chunks = sqlx::query_scalar(
        "SELECT CASE WHEN to_regclass('seeder_progress') IS NULL THEN 0
                     ELSE (SELECT count(*) FROM seeder_progress) END",
    )
    .fetch_one(&pool)
    .await
    .unwrap_or(0);
    pool.close().await;
    chunks
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_mid_way_and_resumed_equals_an_uninterrupted_run() {
    let (killed, uninterrupted) = tokio::join!(Scratch::migrated(), Scratch::migrated());
    let plan = Plan::with_counts(9, 1_500, 100, 4_500);

    let mut child = seeder(&killed)
        .args([
            "run",
            "--seed",
            "9",
            "--users",
            "1500",
            "--products",
            "100",
            "--payments",
            "4500",
        ])
        .args(["--chunk-size", "20", "--jobs", "1", "--no-progress"])
        .spawn()
        .expect("the seeder starts");
    testkit::eventually("some chunks committed", DEADLINE, || async {
        (committed_chunks(&killed).await >= 5).then_some(())
    })
    .await;
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("the killed seeder is reaped");
    assert!(
        !status.success(),
        "the seeder was killed, not finished: {status}"
    );

    // Killed mid-way: some chunks are in, the run is unfinished, the indexes are down.
    // The payment database holds the customer and payment streams.
    let total_chunks = 1_500 / 20 + 4_500 / 20;
    let committed = committed_chunks(&killed).await;
    assert!(
        committed < total_chunks,
        "{committed} of {total_chunks} chunks: the run had finished"
    );
    let refused = seeder(&killed)
        .args(["run", "--seed", "9", "--no-progress"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--resume"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let resumed = seeder(&killed)
        .args(["run", "--resume", "--jobs", "3", "--no-progress"])
        .output()
        .expect("runs");
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(String::from_utf8_lossy(&resumed.stdout).contains("complete"));

    seeder::run(&plan, &uninterrupted.targets, &options(2))
        .await
        .expect("uninterrupted run");
    assert_eq!(killed.checksums().await, uninterrupted.checksums().await);
    assert_eq!(
        killed.schema_objects().await,
        uninterrupted.schema_objects().await
    );
    // The password hash is shared by every user, so every one of them can log in.
    let pool = killed.pool(Service::Identity).await;
    let hashes: i64 = sqlx::query_scalar("SELECT count(DISTINCT password_hash) FROM user_entity")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(hashes, 1);
}
