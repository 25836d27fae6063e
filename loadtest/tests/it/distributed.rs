//! Issue 7, build point 5: two worker processes on disjoint ranges of seeded users run
//! at once; `loadtest merge` adds their histograms and judges the thresholds on the
//! whole.

use std::path::Path;

use loadtest::results::Results;

use crate::{
    loadtest, plan,
    shop::{Knobs, Shop},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_disjoint_user_ranges_merge_into_one_result_judged_on_the_whole() {
    let plan = plan();
    let shop = Shop::start(Knobs::seeded(plan.clone())).await;
    let out = tempfile::tempdir().unwrap();
    let half = plan.users / 2;
    let workers: Vec<_> = [(0, half, "worker-1"), (half, plan.users, "worker-2")]
        .into_iter()
        .map(|(start, end, label)| {
            let mut command = loadtest(&plan);
            command.args([
                "--host",
                &shop.gateway,
                "--users",
                "3",
                "--hatch-rate",
                "3",
                "--run-time",
                "3",
            ]);
            command.args(["--user-range", &format!("{start}..{end}"), "--label", label]);
            command.arg("--out").arg(out.path());
            command.stdout(std::process::Stdio::null());
            command.spawn().expect("a worker starts")
        })
        .collect();
    let statuses = tokio::task::spawn_blocking(move || {
        workers
            .into_iter()
            .map(|mut worker| worker.wait().expect("a worker ends"))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");

    let parts: Vec<Results> = ["worker-1", "worker-2"]
        .iter()
        .map(|label| Results::read(&out.path().join(format!("{label}.json"))).unwrap())
        .collect();
    let thresholds = Path::new(env!("CARGO_MANIFEST_DIR")).join("thresholds.toml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("merge")
        .arg(out.path().join("worker-1.json"))
        .arg(out.path().join("worker-2.json"))
        .arg("--thresholds")
        .arg(&thresholds)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("merge runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let merged = Results::read(&out.path().join("merged.json")).unwrap();
    assert_eq!(merged.workers, 2);
    assert_eq!(
        merged.total_count(),
        parts[0].total_count() + parts[1].total_count()
    );
    assert_eq!(merged.total_errors(), 0, "{}", merged.markdown());
    let view = |r: &Results| r.transactions["view product"].latencies_us().unwrap();
    let (a, b, m) = (view(&parts[0]), view(&parts[1]), view(&merged));
    assert_eq!(m.len(), a.len() + b.len());
    assert_eq!(m.max(), a.max().max(b.max()));
    assert!(
        merged.verdict.as_ref().is_some_and(|v| v.passed()),
        "{}",
        merged.markdown()
    );
}
