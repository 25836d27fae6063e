//! The Pact V4 document model: what a pact file holds, read and written as the
//! specification's JSON so any Pact implementation (pact-python, pact-jvm, pact-go, ...)
//! reads our files and we read theirs.
//!
//! Only the parts we use are modelled: `Synchronous/HTTP` and `Asynchronous/Messages`
//! interactions, provider states with parameters, and matching rules on bodies, headers
//! and message metadata. Written files are canonical (keys sorted, interactions sorted by
//! description, no timestamps) so regenerating them gives the same bytes.

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::matching::Rules;

/// The specification version we write.
pub const SPEC_VERSION: &str = "4.0";

/// One pact: what `consumer` expects of `provider`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pact {
    /// The consumer's name (`account`).
    pub consumer: String,
    /// The provider's name (`order`).
    pub provider: String,
    /// Its interactions.
    pub interactions: Vec<Interaction>,
}

/// A provider state: a named fixture with parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderState {
    /// E.g. `customer c908ce9d-faec-4570-b84d-71a4e77f2f4a has 2 orders`.
    pub name: String,
    /// Values the fixture uses.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

impl ProviderState {
    /// A state with parameters given as a JSON object.
    pub fn new(name: impl Into<String>, params: Value) -> Self {
        Self {
            name: name.into(),
            params: match params {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }

    /// A string parameter, or an error naming it.
    pub fn param(&self, name: &str) -> anyhow::Result<&str> {
        self.params
            .get(name)
            .and_then(Value::as_str)
            .with_context(|| format!("provider state {:?} has no string param {name}", self.name))
    }

    /// An integer parameter, or an error naming it.
    pub fn int_param(&self, name: &str) -> anyhow::Result<i64> {
        self.params
            .get(name)
            .and_then(Value::as_i64)
            .with_context(|| format!("provider state {:?} has no integer param {name}", self.name))
    }
}

/// An interaction of either kind.
// A pact holds a handful of interactions: boxing the larger variant would save nothing
// worth the noise at every construction site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    /// A request and its response.
    Http(HttpInteraction),
    /// An event the provider publishes.
    Message(MessageInteraction),
}

impl Interaction {
    /// Its description (unique within a pact).
    pub fn description(&self) -> &str {
        match self {
            Self::Http(i) => &i.description,
            Self::Message(m) => &m.description,
        }
    }

    /// Its provider states.
    pub fn provider_states(&self) -> &[ProviderState] {
        match self {
            Self::Http(i) => &i.provider_states,
            Self::Message(m) => &m.provider_states,
        }
    }

    /// `Synchronous/HTTP` or `Asynchronous/Messages`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "Synchronous/HTTP",
            Self::Message(_) => "Asynchronous/Messages",
        }
    }
}

/// A body: its example content, content type and matching rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    /// JSON content (`Value::String` for a non-JSON body such as a form).
    pub content: Option<Value>,
    /// `application/json`, `application/x-www-form-urlencoded`, ...
    pub content_type: Option<String>,
    /// Matching rules by JSON path (`$.id`, `$[*].status`).
    pub rules: Rules,
}

/// A request as the consumer sends it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query parameters.
    pub query: BTreeMap<String, Vec<String>>,
    /// Headers the consumer sends and the provider needs (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Rules on header values, by lower-case name.
    pub header_rules: Rules,
    /// The body.
    pub body: Body,
}

/// The response the consumer relies on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Rules on header values.
    pub header_rules: Rules,
    /// The body.
    pub body: Body,
}

/// `Synchronous/HTTP`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpInteraction {
    /// What happens, e.g. `a request for the orders of a customer`.
    pub description: String,
    /// Fixtures the provider sets up first.
    pub provider_states: Vec<ProviderState>,
    /// The request.
    pub request: Request,
    /// The response.
    pub response: Response,
}

/// `Asynchronous/Messages`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageInteraction {
    /// What happens, e.g. `a payment.saved event`.
    pub description: String,
    /// Fixtures the provider sets up (and which make it publish).
    pub provider_states: Vec<ProviderState>,
    /// The message body.
    pub contents: Body,
    /// Message metadata: `contentType`, `exchange`, `routingKey`, `type`, `messageId`.
    pub metadata: BTreeMap<String, Value>,
    /// Rules on metadata values.
    pub metadata_rules: Rules,
}

fn body_json(body: &Body) -> Option<Value> {
    let content = body.content.as_ref()?;
    Some(json!({
        "content": content,
        "contentType": body.content_type.clone().unwrap_or_else(|| "application/json".to_owned()),
        "encoded": false,
    }))
}

fn headers_json(headers: &BTreeMap<String, String>) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect(),
    )
}

fn rules_section(sections: &[(&str, &Rules)]) -> Option<Value> {
    let map: Map<String, Value> = sections
        .iter()
        .filter(|(_, rules)| !rules.is_empty())
        .map(|(name, rules)| ((*name).to_owned(), rules.to_json()))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

fn insert_some(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}

impl Interaction {
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".to_owned(), json!(self.kind()));
        object.insert("description".to_owned(), json!(self.description()));
        object.insert("pending".to_owned(), json!(false));
        if !self.provider_states().is_empty() {
            object.insert(
                "providerStates".to_owned(),
                serde_json::to_value(self.provider_states()).unwrap_or_default(),
            );
        }
        match self {
            Self::Http(i) => {
                let mut request = Map::new();
                request.insert("method".to_owned(), json!(i.request.method));
                request.insert("path".to_owned(), json!(i.request.path));
                if !i.request.query.is_empty() {
                    request.insert("query".to_owned(), json!(i.request.query));
                }
                if !i.request.headers.is_empty() {
                    request.insert("headers".to_owned(), headers_json(&i.request.headers));
                }
                insert_some(&mut request, "body", body_json(&i.request.body));
                insert_some(
                    &mut request,
                    "matchingRules",
                    rules_section(&[
                        ("body", &i.request.body.rules),
                        ("header", &i.request.header_rules),
                    ]),
                );
                let mut response = Map::new();
                response.insert("status".to_owned(), json!(i.response.status));
                if !i.response.headers.is_empty() {
                    response.insert("headers".to_owned(), headers_json(&i.response.headers));
                }
                insert_some(&mut response, "body", body_json(&i.response.body));
                insert_some(
                    &mut response,
                    "matchingRules",
                    rules_section(&[
                        ("body", &i.response.body.rules),
                        ("header", &i.response.header_rules),
                    ]),
                );
                object.insert("request".to_owned(), Value::Object(request));
                object.insert("response".to_owned(), Value::Object(response));
            }
            Self::Message(m) => {
                insert_some(&mut object, "contents", body_json(&m.contents));
                object.insert("metadata".to_owned(), json!(m.metadata));
                insert_some(
                    &mut object,
                    "matchingRules",
                    rules_section(&[("body", &m.contents.rules), ("metadata", &m.metadata_rules)]),
                );
            }
        }
        Value::Object(object)
    }
}

/// Keys sorted at every level, whatever map type `serde_json` was built with.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

impl Pact {
    /// An empty pact between `consumer` and `provider`.
    pub fn new(consumer: &str, provider: &str) -> Self {
        Self {
            consumer: consumer.to_owned(),
            provider: provider.to_owned(),
            interactions: Vec::new(),
        }
    }

    /// The file name pacts are stored under: `<consumer>-<provider>.json`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.json", self.consumer, self.provider)
    }

    /// The V4 JSON document, canonical.
    pub fn to_json(&self) -> Value {
        let mut interactions = self.interactions.clone();
        interactions.sort_by_key(|i| {
            let states: Vec<String> = i
                .provider_states()
                .iter()
                .map(|s| serde_json::to_string(s).unwrap_or_default())
                .collect();
            (i.description().to_owned(), states)
        });
        canonical(&json!({
            "consumer": {"name": self.consumer},
            "provider": {"name": self.provider},
            "interactions": interactions.iter().map(Interaction::to_json).collect::<Vec<_>>(),
            "metadata": {
                "pactSpecification": {"version": SPEC_VERSION},
                "ironvessel": {"generator": "contracts", "note": "generated by the consumer tests in contracts/tests; do not edit by hand"},
            },
        }))
    }

    /// The file's text: pretty JSON with a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a V4 pact (V3-style string headers are accepted too).
    pub fn from_json(value: &Value) -> anyhow::Result<Self> {
        let name = |key: &str| {
            value[key]["name"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("the pact has no {key}.name"))
        };
        let mut pact = Self::new(&name("consumer")?, &name("provider")?);
        let interactions = value["interactions"]
            .as_array()
            .context("the pact has no interactions array")?;
        for (index, raw) in interactions.iter().enumerate() {
            let interaction = parse_interaction(raw)
                .with_context(|| format!("interaction {index} of {}", pact.file_name()))?;
            pact.interactions.push(interaction);
        }
        Ok(pact)
    }

    /// Reads a pact file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        Self::from_json(&value).with_context(|| format!("{} is not a pact", path.display()))
    }

    /// The interactions of one kind.
    pub fn http(&self) -> impl Iterator<Item = &HttpInteraction> {
        self.interactions.iter().filter_map(|i| match i {
            Interaction::Http(h) => Some(h),
            Interaction::Message(_) => None,
        })
    }

    /// The message interactions.
    pub fn messages(&self) -> impl Iterator<Item = &MessageInteraction> {
        self.interactions.iter().filter_map(|i| match i {
            Interaction::Message(m) => Some(m),
            Interaction::Http(_) => None,
        })
    }
}

fn parse_body(raw: &Value) -> Body {
    match raw {
        Value::Null => Body::default(),
        Value::Object(map) if map.contains_key("content") => Body {
            content: map.get("content").cloned(),
            content_type: map
                .get("contentType")
                .and_then(Value::as_str)
                .map(str::to_owned),
            rules: Rules::default(),
        },
        // A V3-style bare body.
        other => Body {
            content: Some(other.clone()),
            content_type: None,
            rules: Rules::default(),
        },
    }
}

fn parse_headers(raw: &Value) -> BTreeMap<String, String> {
    raw.as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::Array(values) => values
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.as_str().unwrap_or_default().to_owned(),
                    };
                    (k.to_ascii_lowercase(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_rules(raw: &Value, section: &str) -> anyhow::Result<Rules> {
    Rules::from_json(&raw["matchingRules"][section])
}

fn lower_keys(rules: Rules) -> Rules {
    rules.map_paths(|path| path.to_ascii_lowercase())
}

fn parse_interaction(raw: &Value) -> anyhow::Result<Interaction> {
    let description = raw["description"]
        .as_str()
        .context("no description")?
        .to_owned();
    let provider_states: Vec<ProviderState> = match &raw["providerStates"] {
        Value::Null => match raw["providerState"].as_str() {
            Some(name) => vec![ProviderState::new(name, Value::Null)],
            None => Vec::new(),
        },
        states => serde_json::from_value(states.clone()).context("providerStates")?,
    };
    let kind = raw["type"].as_str().unwrap_or("Synchronous/HTTP");
    match kind {
        "Synchronous/HTTP" => {
            let req = &raw["request"];
            let res = &raw["response"];
            let query = match &req["query"] {
                Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| {
                        let values = match v {
                            Value::Array(items) => items
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect(),
                            other => vec![other.as_str().unwrap_or_default().to_owned()],
                        };
                        (k.clone(), values)
                    })
                    .collect(),
                Value::String(text) => url::form_urlencoded::parse(text.as_bytes()).fold(
                    BTreeMap::<String, Vec<String>>::new(),
                    |mut acc, (k, v)| {
                        acc.entry(k.into_owned()).or_default().push(v.into_owned());
                        acc
                    },
                ),
                _ => BTreeMap::new(),
            };
            let mut request_body = parse_body(&req["body"]);
            request_body.rules = parse_rules(req, "body")?;
            let mut response_body = parse_body(&res["body"]);
            response_body.rules = parse_rules(res, "body")?;
            Ok(Interaction::Http(HttpInteraction {
                description,
                provider_states,
                request: Request {
                    method: req["method"]
                        .as_str()
                        .context("no request.method")?
                        .to_ascii_uppercase(),
                    path: req["path"].as_str().context("no request.path")?.to_owned(),
                    query,
                    headers: parse_headers(&req["headers"]),
                    header_rules: lower_keys(parse_rules(req, "header")?),
                    body: request_body,
                },
                response: Response {
                    status: res["status"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .context("no response.status")?,
                    headers: parse_headers(&res["headers"]),
                    header_rules: lower_keys(parse_rules(res, "header")?),
                    body: response_body,
                },
            }))
        }
        "Asynchronous/Messages" => {
            let mut contents = parse_body(&raw["contents"]);
            contents.rules = parse_rules(raw, "body")?;
            let metadata = raw["metadata"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            Ok(Interaction::Message(MessageInteraction {
                description,
                provider_states,
                contents,
                metadata,
                metadata_rules: parse_rules(raw, "metadata")?,
            }))
        }
        other => bail!("interactions of type {other} are not supported"),
    }
}
