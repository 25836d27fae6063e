//! Proof of polyglot: pact-python (PyPI; it drives the Pact FFI, the reference Pact core,
//! shipped as a binary wheel) verifies our running payment service against our pact
//! files. CI installs it from `ci/requirements-tools.txt` into the venv on PATH.

use std::{path::Path, sync::Arc};

use serde_json::Value;

use crate::{
    broken::{rename, rewriting_proxy},
    fixtures::PaymentStates,
    providers::{Provider, Service},
    state_server,
};

const INSTALL: &str = "python3 -m venv ~/.cache/ironvessel/venv && \
    ~/.cache/ironvessel/venv/bin/pip install -r ci/requirements-tools.txt, \
    then put ~/.cache/ironvessel/venv/bin first on PATH (.ci/run does this)";

async fn python(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("python3")
        .args(args)
        .output()
        .await
        .unwrap_or_else(|err| panic!("python3 is not on PATH ({err}); {INSTALL}"))
}

async fn pact_python(base_url: &str, pact: &str, states: &str, token: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/verify_with_pact_python.py");
    let pact = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pacts")
        .join(pact);
    let output = python(&[
        script.to_str().expect("UTF-8 path"),
        "--provider",
        "payment",
        "--base-url",
        base_url,
        "--pact",
        pact.to_str().expect("UTF-8 path"),
        "--state-change-url",
        states,
        "--token",
        token,
        "--http-only",
    ])
    .await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn pact_python_verifies_our_pact_files_against_the_running_payment_service() {
    let probe = python(&["-c", "import pact, sys; print(pact.__version__)"]).await;
    assert!(
        probe.status.success(),
        "pact-python is not importable by the python3 on PATH: {}; {INSTALL}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let provider = Provider::start(Service::Payment).await;
    let states = state_server::serve(Arc::new(PaymentStates::of(&provider))).await;
    let token = provider.manager_token();
    for pact in ["account-payment.json", "order-payment.json"] {
        let (passed, output) = pact_python(&provider.base_url, pact, &states, &token).await;
        assert!(passed, "pact-python failed to verify {pact}:\n{output}");
        assert!(output.contains("verification passed"), "{output}");
    }

    // The same tool rejects a provider that broke the contract: the check is real.
    let proxy = rewriting_proxy(
        &provider.base_url,
        Arc::new(|json: &mut Value| rename(json, "totalPrice", "total")),
    )
    .await;
    let (passed, output) = pact_python(&proxy, "order-payment.json", &states, &token).await;
    assert!(!passed, "pact-python accepted a renamed field:\n{output}");
    assert!(output.contains("totalPrice"), "{output}");
}
