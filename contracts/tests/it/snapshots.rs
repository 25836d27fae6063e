//! Drift checks beyond the pacts: the OpenAPI document of every service that serves one
//! (`contracts/openapi/<service>.json`) and a JSON Schema of every event
//! (`contracts/events/<routing key>.schema.json`), regenerated from the services' own
//! types and compared with the committed files. A difference fails with a diff;
//! `IRONVESSEL_UPDATE_PACTS=1` accepts it.

use std::collections::{BTreeMap, BTreeSet};

use contracts::{files, matching::ISO_DATETIME, pact::canonical};
use platform::messaging::{Envelope, Event};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::fixtures::{LORNE, TOMMY};

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&canonical(value)).expect("JSON");
    text.push('\n');
    text
}

#[test]
fn the_openapi_documents_match_the_committed_snapshots() {
    let documents = [
        (
            "account",
            serde_json::to_value(account::http::ApiDoc::openapi()),
        ),
        (
            "inventory",
            serde_json::to_value(inventory::http::ApiDoc::openapi()),
        ),
        (
            "order",
            serde_json::to_value(order::http::ApiDoc::openapi()),
        ),
        (
            "payment",
            serde_json::to_value(payment::http::ApiDoc::openapi()),
        ),
    ];
    let mut drift = Vec::new();
    for (service, document) in documents {
        let document = document.expect("an OpenAPI document serialises");
        assert!(
            document["paths"].as_object().is_some_and(|p| !p.is_empty()),
            "{service}"
        );
        if let Err(report) = files::check_snapshot(
            &files::artefact_dir("openapi"),
            &format!("{service}.json"),
            &pretty(&document),
        ) {
            drift.push(report);
        }
    }
    assert!(drift.is_empty(), "{}", drift.join("\n\n"));
}

// ---- event schemas -------------------------------------------------------------------

/// A JSON Schema (2020-12) describing every example: a field is required when every
/// example has it non-null, nullable when some example has it null; an object whose keys
/// are all numbers is a map.
pub(crate) fn infer(examples: &[&Value]) -> Value {
    let non_null: Vec<&Value> = examples.iter().copied().filter(|v| !v.is_null()).collect();
    let nullable = non_null.len() < examples.len();
    let Some(first) = non_null.first() else {
        return json!({"type": "null"});
    };
    let mut schema = match first {
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(_) => {
            if non_null.iter().all(|v| v.is_i64() || v.is_u64()) {
                json!({"type": "integer"})
            } else {
                json!({"type": "number"})
            }
        }
        Value::String(_) => {
            let iso = regex::Regex::new(ISO_DATETIME).expect("regex");
            if non_null
                .iter()
                .all(|v| v.as_str().is_some_and(|s| iso.is_match(s)))
            {
                json!({"type": "string", "format": "date-time"})
            } else {
                json!({"type": "string"})
            }
        }
        Value::Array(_) => {
            let items: Vec<&Value> = non_null
                .iter()
                .filter_map(|v| v.as_array())
                .flatten()
                .collect();
            json!({"type": "array", "items": infer(&items)})
        }
        Value::Object(_) => {
            let objects: Vec<&serde_json::Map<String, Value>> =
                non_null.iter().filter_map(|v| v.as_object()).collect();
            let keys: BTreeSet<&String> = objects.iter().flat_map(|o| o.keys()).collect();
            if !keys.is_empty() && keys.iter().all(|k| k.parse::<i64>().is_ok()) {
                let values: Vec<&Value> = objects.iter().flat_map(|o| o.values()).collect();
                json!({
                    "type": "object",
                    "propertyNames": {"pattern": "^[0-9]+$"},
                    "additionalProperties": infer(&values),
                })
            } else {
                let mut properties = BTreeMap::new();
                let mut required = Vec::new();
                for key in keys {
                    let values: Vec<&Value> = objects
                        .iter()
                        .map(|o| o.get(key).unwrap_or(&Value::Null))
                        .collect();
                    if values.iter().all(|v| !v.is_null()) {
                        required.push(key.clone());
                    }
                    properties.insert(key.clone(), infer(&values));
                }
                json!({"type": "object", "properties": properties, "required": required})
            }
        }
        Value::Null => unreachable!("filtered out"),
    };
    if nullable && let Some(kind) = schema["type"].as_str() {
        schema["type"] = json!([kind, "null"]);
    }
    schema
}

/// The schema of an event's envelope with its payload, from examples of the payload.
fn event_schema<E: Event>(examples: Vec<E>) -> Value {
    let payloads: Vec<Value> = examples
        .into_iter()
        .map(|e| serde_json::to_value(Envelope::new(e)).expect("envelope")["payload"].clone())
        .collect();
    let payloads: Vec<&Value> = payloads.iter().collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://ironvessel.example/contracts/events/{}.schema.json", E::ROUTING_KEY),
        "title": E::ROUTING_KEY,
        "description": format!("{} on the {} exchange: the envelope and its payload", E::TYPE, E::EXCHANGE),
        "type": "object",
        "required": ["eventType", "eventId", "timestamp", "version", "payload"],
        "properties": {
            "eventType": {"const": E::TYPE},
            "eventId": {"type": "string", "format": "uuid"},
            "timestamp": {"type": "string", "format": "date-time"},
            "version": {"const": E::VERSION},
            "payload": infer(&payloads),
        },
    })
}

fn quantities() -> BTreeMap<String, i64> {
    [("17".to_owned(), 2), ("4".to_owned(), 1)].into()
}

fn schemas() -> Vec<(&'static str, Value)> {
    let product = seeder::generate::product(&crate::fixtures::plan(), 7);
    let address = seeder::generate::primary_address(&crate::fixtures::plan(), 2).full_address();
    vec![
        (
            account::events::PrimaryAddressSaved::ROUTING_KEY,
            event_schema(vec![account::events::PrimaryAddressSaved {
                customer_id: TOMMY.to_owned(),
                address: address.clone(),
            }]),
        ),
        (
            inventory::events::ProductAvailable::ROUTING_KEY,
            event_schema(vec![inventory::events::ProductAvailable {
                id: product.id,
                name: product.name.clone(),
                price: product.price,
                product_category: product.category,
                desired_quantity: 2,
                customer_id: TOMMY.to_owned(),
            }]),
        ),
        (
            inventory::events::ProductsChecked::ROUTING_KEY,
            event_schema(vec![
                inventory::events::ProductsChecked {
                    payment_id: 41,
                    are_products_available: true,
                    customer_id: TOMMY.to_owned(),
                    reason: None,
                    unavailable_product_id: None,
                    unavailable_reason: None,
                },
                inventory::events::ProductsChecked {
                    payment_id: 42,
                    are_products_available: false,
                    customer_id: LORNE.to_owned(),
                    reason: Some("out of stock".to_owned()),
                    unavailable_product_id: Some(product.id),
                    unavailable_reason: Some(inventory::domain::UnavailableReason::NotInStocks),
                },
            ]),
        ),
        (
            payment::events::PaymentSaved::ROUTING_KEY,
            event_schema(vec![payment::events::PaymentSaved {
                payment_id: 41,
                customer_id: TOMMY.to_owned(),
                product_quantities: quantities(),
            }]),
        ),
        (
            payment::events::PaymentApproved::ROUTING_KEY,
            event_schema(vec![payment::events::PaymentApproved {
                payment_id: 41,
                customer_id: TOMMY.to_owned(),
                address,
            }]),
        ),
        (
            payment::events::PaymentCancelled::ROUTING_KEY,
            event_schema(vec![payment::events::PaymentCancelled {
                payment_id: 42,
                customer_id: TOMMY.to_owned(),
                reason: "No delivery address.".to_owned(),
            }]),
        ),
        (
            payment::events::PaymentRefunded::ROUTING_KEY,
            event_schema(vec![payment::events::PaymentRefunded {
                payment_id: 41,
                customer_id: TOMMY.to_owned(),
                product_quantities: quantities(),
            }]),
        ),
        (
            order::events::OrderCancelled::ROUTING_KEY,
            event_schema(vec![
                order::events::OrderCancelled {
                    order_id: 7,
                    payment_id: 41,
                    customer_id: TOMMY.to_owned(),
                    cancellation_reason: order::domain::CancellationReason::DontNeedAnymore,
                    explanation: Some("changed my mind".to_owned()),
                },
                order::events::OrderCancelled {
                    order_id: 8,
                    payment_id: 43,
                    customer_id: TOMMY.to_owned(),
                    cancellation_reason: order::domain::CancellationReason::DeliveryTookTooLong,
                    explanation: None,
                },
            ]),
        ),
    ]
}

#[test]
fn the_event_schemas_match_the_committed_snapshots() {
    let schemas = schemas();
    // Every route of the topology has its schema.
    let routes: BTreeSet<&str> = platform::messaging::topology::ROUTES
        .iter()
        .map(|r| r.routing_key)
        .collect();
    let covered: BTreeSet<&str> = schemas.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        routes, covered,
        "an event without a schema (or a schema without a route)"
    );
    let mut drift = Vec::new();
    for (routing_key, schema) in schemas {
        if let Err(report) = files::check_snapshot(
            &files::artefact_dir("events"),
            &format!("{routing_key}.schema.json"),
            &pretty(&schema),
        ) {
            drift.push(report);
        }
    }
    assert!(drift.is_empty(), "{}", drift.join("\n\n"));
}

#[test]
fn inferred_schemas_mark_nullable_and_required_fields_and_maps() {
    let a = json!({"id": 1, "reason": null, "q": {"4": 1}, "price": 1.5});
    let b = json!({"id": 2, "reason": "x", "q": {"17": 2}, "price": 2});
    let schema = infer(&[&a, &b]);
    assert_eq!(schema["required"], json!(["id", "price", "q"]));
    assert_eq!(
        schema["properties"]["reason"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(schema["properties"]["price"]["type"], "number");
    assert_eq!(
        schema["properties"]["q"]["additionalProperties"]["type"],
        "integer"
    );
}

/// Whether `schema` declares every field of `value` with a compatible type; the problems.
fn undeclared(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(constant) = schema.get("const") {
        if constant != value {
            out.push(format!(
                "{path}: the schema says {constant}, the contract {value}"
            ));
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = match value {
        Value::Null => types.contains(&"null"),
        Value::Bool(_) => types.contains(&"boolean"),
        Value::Number(n) => {
            types.contains(&"number") || (types.contains(&"integer") && (n.is_i64() || n.is_u64()))
        }
        Value::String(_) => types.contains(&"string"),
        Value::Array(_) => types.contains(&"array"),
        Value::Object(_) => types.contains(&"object"),
    };
    if !fits {
        out.push(format!(
            "{path}: the schema allows {types:?}, the contract has {value}"
        ));
        return;
    }
    if let Value::Object(fields) = value {
        for (key, field) in fields {
            let declared = schema["properties"]
                .get(key)
                .or_else(|| schema.get("additionalProperties"));
            match declared {
                Some(declared) => undeclared(declared, field, &format!("{path}.{key}"), out),
                None => out.push(format!("{path}.{key}: not in the provider's schema")),
            }
        }
    }
}

/// The consumers' message examples only use fields the providers' event schemas declare,
/// with the declared types: the pacts and the schemas tell the same story.
#[test]
fn every_message_example_in_the_pacts_fits_its_event_schema() {
    let schemas: BTreeMap<&str, Value> = schemas().into_iter().collect();
    let mut problems = Vec::new();
    let mut checked = 0;
    for pact in files::load_all(&files::pacts_dir()).expect("pacts") {
        for message in pact.messages() {
            let key = message.metadata["routingKey"]
                .as_str()
                .expect("a routing key");
            let schema = schemas.get(key).expect("a schema for every routing key");
            let example = message.contents.content.clone().expect("contents");
            let mut found = Vec::new();
            undeclared(schema, &example, "$", &mut found);
            problems.extend(
                found
                    .into_iter()
                    .map(|p| format!("{} {:?}: {p}", pact.file_name(), message.description)),
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} message examples");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
