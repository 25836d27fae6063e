//! Shorthands for writing interactions in consumer tests.

use contracts::{
    files,
    matching::{self, Rules, extract, iso_datetime, uuid},
    pact::{Body, HttpInteraction, MessageInteraction, Pact, ProviderState, Request, Response},
};
use serde_json::{Value, json};

/// The bearer token consumer tests send; providers are verified with real ones instead.
pub(crate) const EXAMPLE_TOKEN: &str = "example-token";

pub(crate) fn state(name: &str, params: Value) -> ProviderState {
    ProviderState::new(name, params)
}

/// A request with the caller's bearer token, which the provider must accept in any form.
pub(crate) fn authorized(method: &str, path: &str) -> Request {
    let mut header_rules = Rules::default();
    header_rules.insert(
        "authorization",
        matching::Matcher::Regex(r"^Bearer \S+$".to_owned()),
    );
    Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers: [(
            "authorization".to_owned(),
            format!("Bearer {EXAMPLE_TOKEN}"),
        )]
        .into(),
        header_rules,
        ..Request::default()
    }
}

/// A JSON body from a template with matchers.
pub(crate) fn json_body(template: &Value) -> Body {
    let (content, rules) = extract(template);
    Body {
        content: Some(content),
        content_type: Some("application/json".to_owned()),
        rules,
    }
}

/// A JSON response.
pub(crate) fn json_response(status: u16, template: &Value) -> Response {
    Response {
        status,
        headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        body: json_body(template),
        ..Response::default()
    }
}

/// A response with only a status.
pub(crate) fn status_only(status: u16) -> Response {
    Response {
        status,
        ..Response::default()
    }
}

pub(crate) fn http(
    description: &str,
    states: Vec<ProviderState>,
    request: Request,
    response: Response,
) -> HttpInteraction {
    HttpInteraction {
        description: description.to_owned(),
        provider_states: states,
        request,
        response,
    }
}

/// An event in the shop's envelope, as it arrives from RabbitMQ.
pub(crate) fn event(
    description: &str,
    state: ProviderState,
    (exchange, routing_key, event_type): (&str, &str, &str),
    payload: Value,
) -> MessageInteraction {
    let contents = json_body(&json!({
        "eventType": event_type,
        "eventId": uuid("0193a5b2-7c1d-7e8f-9a0b-1c2d3e4f5a6b"),
        "timestamp": iso_datetime("2026-12-01T10:00:00.123456Z"),
        "version": 1,
        "payload": payload,
    }));
    let mut metadata_rules = Rules::default();
    metadata_rules.insert(
        "messageId",
        matching::Matcher::Regex(matching::UUID.to_owned()),
    );
    MessageInteraction {
        description: description.to_owned(),
        provider_states: vec![state],
        contents,
        metadata: [
            ("contentType", "application/json"),
            ("exchange", exchange),
            ("routingKey", routing_key),
            ("type", event_type),
            ("messageId", "0193a5b2-7c1d-7e8f-9a0b-1c2d3e4f5a6b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect(),
        metadata_rules,
    }
}

/// The example body of a message interaction.
pub(crate) fn example(message: &MessageInteraction) -> Value {
    message
        .contents
        .content
        .clone()
        .expect("a message has contents")
}

/// Compares the pact with the committed file (or writes it with IRONVESSEL_UPDATE_PACTS=1).
pub(crate) fn write_or_check(pact: &Pact) {
    if let Err(drift) = files::check_pact(pact) {
        panic!("{drift}");
    }
}
