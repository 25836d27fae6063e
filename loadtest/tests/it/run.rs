//! Issue 7, acceptance 1: a short run against a seeded shop completes with no
//! unexpected error and passes the shipped thresholds; an impossible threshold makes
//! the command exit non-zero.

use crate::{
    loadtest, plan,
    shop::{Knobs, Shop},
    short_run,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_passes_its_thresholds_and_an_impossible_threshold_exits_non_zero() {
    let plan = plan();
    let shop = Shop::start(Knobs::seeded(plan.clone())).await;
    let out = tempfile::tempdir().unwrap();

    let outcome = loadtest::run::run(&short_run(&shop.gateway, &plan, out.path(), "short"))
        .await
        .expect("the run completes");
    let results = &outcome.results;
    let verdict = results.verdict.as_ref().expect("judged");
    assert!(verdict.passed(), "{}", results.markdown());
    assert_eq!(results.total_errors(), 0, "{}", results.markdown());
    for step in [
        "login",
        "browse",
        "view product",
        "add to cart",
        "check out",
        "orders",
        "addresses",
        "list orders",
    ] {
        assert!(
            results.transactions.get(step).is_some_and(|t| t.count > 0),
            "no {step:?} in\n{}",
            results.markdown()
        );
    }
    for file in ["short.json", "short.md", "short-goose.html"] {
        let path = out.path().join(file);
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 0),
            "{} was not written",
            path.display()
        );
    }

    // The same load with a p50 no request can meet, through the command line.
    let impossible = out.path().join("impossible.toml");
    std::fs::write(
        &impossible,
        "[transactions.\"view product\"]\np50_ms = 0.001\n",
    )
    .unwrap();
    let output = tokio::task::spawn_blocking({
        let mut command = loadtest(&plan);
        command.args([
            "--host",
            &shop.gateway,
            "--users",
            "2",
            "--hatch-rate",
            "2",
            "--run-time",
            "2",
            "--catalog",
            "1",
            "--shopper",
            "0",
            "--returning",
            "0",
            "--manager",
            "0",
        ]);
        command
            .arg("--thresholds")
            .arg(&impossible)
            .arg("--out")
            .arg(out.path())
            .args(["--label", "impossible"]);
        move || command.output().expect("loadtest runs")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("view product: p50 <= 0.001 ms"), "{stderr}");
    let markdown = std::fs::read_to_string(out.path().join("impossible.md")).unwrap();
    assert!(markdown.contains("## Thresholds: FAIL"), "{markdown}");
}
