//! The README's walkthrough, run against a gateway: log in with the password grant,
//! list products, list addresses. `cargo xtask up --check` runs it; so can a test.

use std::time::Duration;

use serde_json::Value;

/// The realm, client and demo logins of the imported realm file.
pub(crate) const REALM: &str = "ironvessel";
/// The public client the web shop logs in with.
pub(crate) const CLIENT_ID: &str = "ironvessel-web";
/// Demo users: (username, password, role).
pub(crate) const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("tommy", "garrison_1918", "customer"),
    ("lorne", "sioux_falls", "customer"),
    ("vader", "i_hate_sand", "manager"),
];

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// What was tried, e.g. `GET /inventory/product?pageNumber=0`.
    pub(crate) name: &'static str,
    /// `Ok(detail)` or `Err(reason)`.
    pub(crate) outcome: Result<String, String>,
}

impl Step {
    /// `PASS  name: detail` or `FAIL  name: reason`.
    pub(crate) fn line(&self) -> String {
        match &self.outcome {
            Ok(detail) => format!("PASS  {}: {detail}", self.name),
            Err(reason) => format!("FAIL  {}: {reason}", self.name),
        }
    }
}

/// Whether every step passed.
pub(crate) fn passed(steps: &[Step]) -> bool {
    steps.iter().all(|step| step.outcome.is_ok())
}

/// The token endpoint, through the gateway.
pub(crate) fn token_path() -> String {
    format!("/realms/{REALM}/protocol/openid-connect/token")
}

const TOKEN_STEP: &str = "token: password grant for tommy through the gateway";
const PRODUCTS_STEP: &str = "GET /inventory/product?pageNumber=0";
const ADDRESSES_STEP: &str = "GET /account/address?pageNumber=0";

/// Runs every step against `gateway` (e.g. `http://127.0.0.1:9080`); a step that needs
/// the token fails with a reason when there is none. Never panics, never stops early.
pub(crate) async fn run(gateway: &str) -> Vec<Step> {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            return vec![Step {
                name: TOKEN_STEP,
                outcome: Err(format!("could not build an HTTP client: {error}")),
            }];
        }
    };
    let (username, password, _) = DEMO_USERS[0];
    let token = login(&client, gateway, username, password).await;
    let mut steps = vec![Step {
        name: TOKEN_STEP,
        outcome: token
            .as_ref()
            .map(|token| format!("got an access token ({} bytes)", token.len()))
            .map_err(Clone::clone),
    }];
    for (name, path, must_be_non_empty) in [
        (PRODUCTS_STEP, "/inventory/product?pageNumber=0", true),
        (ADDRESSES_STEP, "/account/address?pageNumber=0", false),
    ] {
        let outcome = match &token {
            Ok(token) => get_list(&client, gateway, path, token, must_be_non_empty).await,
            Err(_) => Err("skipped: no token".to_owned()),
        };
        steps.push(Step { name, outcome });
    }
    steps
}

async fn login(
    client: &reqwest::Client,
    gateway: &str,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let response = client
        .post(format!("{gateway}{}", token_path()))
        .form(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let body = expect_ok(response).await?;
    body.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no access_token in {body}"))
}

async fn get_list(
    client: &reqwest::Client,
    gateway: &str,
    path: &str,
    token: &str,
    must_be_non_empty: bool,
) -> Result<String, String> {
    let response = client
        .get(format!("{gateway}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let instance = response
        .headers()
        .get("x-instance")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = expect_ok(response).await?;
    let items = body
        .as_array()
        .ok_or_else(|| format!("expected a JSON list, got {body}"))?;
    if must_be_non_empty && items.is_empty() {
        return Err("200 but the list is empty (was the demo data seeded?)".to_owned());
    }
    let from = instance.map(|i| format!(" from {i}")).unwrap_or_default();
    Ok(format!("200 with {} item(s){from}", items.len()))
}

/// The JSON body of a 200, or why there is none.
async fn expect_ok(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|error| format!("{status}, unreadable body: {error}"))?;
    if status != reqwest::StatusCode::OK {
        let excerpt: String = text.chars().take(300).collect();
        return Err(format!("expected 200, got {status}: {excerpt}"));
    }
    serde_json::from_str(&text).map_err(|error| format!("200 but not JSON ({error}): {text}"))
}

/// Ready-to-paste shell commands doing the walkthrough by hand.
pub(crate) fn curl_example(gateway: &str) -> String {
    let (username, password, _) = DEMO_USERS[0];
    format!(
        "TOKEN=$(curl -s {gateway}{token_path} \\\n  \
         -d grant_type=password -d client_id={CLIENT_ID} -d username={username} -d password={password} \\\n  \
         | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
         curl -s -H \"Authorization: Bearer $TOKEN\" '{gateway}/inventory/product?pageNumber=0'\n\
         curl -s -H \"Authorization: Bearer $TOKEN\" '{gateway}/account/address?pageNumber=0'",
        token_path = token_path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_gateway_every_step_fails_with_a_reason() {
        // Bind and drop a listener to get a port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let steps = run(&format!("http://{address}")).await;
        assert_eq!(steps.len(), 3);
        assert!(!passed(&steps));
        assert!(
            steps[0].line().starts_with("FAIL  token"),
            "{}",
            steps[0].line()
        );
        assert!(
            steps[0].line().contains("request failed"),
            "{}",
            steps[0].line()
        );
        assert_eq!(
            steps[1].line(),
            "FAIL  GET /inventory/product?pageNumber=0: skipped: no token"
        );
    }

    #[test]
    fn the_curl_example_logs_in_through_the_gateway_and_lists_products() {
        let example = curl_example("http://127.0.0.1:9080");
        assert!(example.contains(
            "curl -s http://127.0.0.1:9080/realms/ironvessel/protocol/openid-connect/token"
        ));
        assert!(
            example.contains(
                "-d client_id=ironvessel-web -d username=tommy -d password=garrison_1918"
            )
        );
        assert!(example.contains("'http://127.0.0.1:9080/inventory/product?pageNumber=0'"));
        assert!(example.contains("'http://127.0.0.1:9080/account/address?pageNumber=0'"));
    }
}
