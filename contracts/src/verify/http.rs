//! HTTP provider verification: each interaction's provider states are set up, its
//! request is sent to the provider, and the response is matched against the contract.
//!
//! The request goes out as the consumer sent it, except for the headers the verifier is
//! told to replace (an `Authorization` the provider will accept: the pact holds the
//! consumer's example token, which no real provider trusts).

use std::{collections::BTreeMap, time::Duration};

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

use super::{Outcome, Report, StateHandler};
use crate::{
    matching::{Mismatch, compare, compare_text},
    pact::{HttpInteraction, Pact},
};

/// What to verify against and how.
#[derive(Debug, Clone)]
pub struct HttpVerifier {
    /// `http://127.0.0.1:8080` (no trailing slash needed).
    pub base_url: String,
    /// Header values replacing those of the pact's requests (lower-case names). Only
    /// headers the request carries are replaced; none are added.
    pub replace_headers: BTreeMap<String, String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl HttpVerifier {
    /// Verifies against `base_url` with no header replaced.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            replace_headers: BTreeMap::new(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Replaces header `name` (when the request has it) with `value`.
    pub fn replace_header(mut self, name: &str, value: &str) -> Self {
        self.replace_headers
            .insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }

    /// Verifies every HTTP interaction of `pact`.
    pub async fn verify(&self, pact: &Pact, states: &dyn StateHandler) -> Report {
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .unwrap_or_default();
        let mut report = Report::default();
        for interaction in pact.http() {
            let mut outcome = Outcome {
                consumer: pact.consumer.clone(),
                provider: pact.provider.clone(),
                interaction: interaction.description.clone(),
                kind: "Synchronous/HTTP".to_owned(),
                mismatches: Vec::new(),
                error: None,
            };
            match self.run(&client, interaction, states).await {
                Ok(mismatches) => outcome.mismatches = mismatches,
                Err(err) => outcome.error = Some(format!("{err:#}")),
            }
            report.outcomes.push(outcome);
        }
        report
    }

    async fn run(
        &self,
        client: &reqwest::Client,
        interaction: &HttpInteraction,
        states: &dyn StateHandler,
    ) -> anyhow::Result<Vec<Mismatch>> {
        for state in &interaction.provider_states {
            states.setup(state).await.map_err(|err| {
                err.context(format!("setting up provider state {:?}", state.name))
            })?;
        }
        let request = &interaction.request;
        let mut url = url::Url::parse(&format!("{}{}", self.base_url, request.path))?;
        for (key, values) in &request.query {
            for value in values {
                url.query_pairs_mut().append_pair(key, value);
            }
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
        let mut builder = client.request(method, url);
        for (name, value) in &request.headers {
            let value = self.replace_headers.get(name).unwrap_or(value);
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        if let Some(content) = &request.body.content {
            let text = match content {
                Value::String(text) => text.clone(),
                other => serde_json::to_string(other)?,
            };
            if !request.headers.contains_key("content-type") {
                builder = builder.header(
                    "content-type",
                    request
                        .body
                        .content_type
                        .as_deref()
                        .unwrap_or("application/json"),
                );
            }
            builder = builder.body(text);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(response_mismatches(interaction, status, &headers, &body))
    }
}

/// How an actual response differs from the contract's.
pub fn response_mismatches(
    interaction: &HttpInteraction,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Vec<Mismatch> {
    let expected = &interaction.response;
    let mut mismatches = Vec::new();
    if status != expected.status {
        let sample: String = String::from_utf8_lossy(body).chars().take(200).collect();
        mismatches.push(Mismatch {
            path: "status".to_owned(),
            message: format!("expected {}, got {status} ({sample})", expected.status),
        });
        return mismatches;
    }
    for (name, value) in &expected.headers {
        let actual = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        mismatches.extend(compare_text(
            &format!("header {name}"),
            value,
            actual,
            expected.header_rules.get(name),
        ));
    }
    if let Some(content) = &expected.body.content {
        match serde_json::from_slice::<Value>(body) {
            Ok(actual) => mismatches.extend(compare(content, &actual, &expected.body.rules)),
            Err(err) => mismatches.push(Mismatch {
                path: "$".to_owned(),
                message: format!("expected a JSON body, got something unreadable: {err}"),
            }),
        }
    }
    mismatches
}
