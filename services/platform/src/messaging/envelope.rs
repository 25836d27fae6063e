//! The envelope around every event:
//! `{"eventType": "PaymentSaved", "eventId": "<uuid>", "timestamp": "<RFC 3339>", "version": 1, "payload": {...}}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An event payload and where it goes.
pub trait Event: Serialize {
    /// `eventType` on the wire, e.g. `ProductAvailable`.
    const TYPE: &'static str;
    /// Topic exchange (unprefixed), e.g. `product.topic`.
    const EXCHANGE: &'static str;
    /// Routing key, e.g. `product.available`.
    const ROUTING_KEY: &'static str;
    /// Payload schema version.
    const VERSION: u32 = 1;
}

/// The envelope; `T` is the payload (a typed struct, or `serde_json::Value` when the
/// payload is not yet interpreted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    /// The payload's type name.
    pub event_type: String,
    /// Unique per event; consumers deduplicate on it; also the AMQP `message_id`.
    pub event_id: Uuid,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    /// Payload schema version.
    pub version: u32,
    /// The event itself.
    pub payload: T,
}

impl<T: Event> Envelope<T> {
    /// Wraps `payload` with a fresh id (UUIDv7: time-ordered) and the current time.
    pub fn new(payload: T) -> Self {
        Self {
            event_type: T::TYPE.to_owned(),
            event_id: Uuid::now_v7(),
            timestamp: Utc::now(),
            version: T::VERSION,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Ping {
        customer_id: String,
    }

    impl Event for Ping {
        const TYPE: &'static str = "Ping";
        const EXCHANGE: &'static str = "test.topic";
        const ROUTING_KEY: &'static str = "test.ping";
    }

    #[test]
    fn the_envelope_has_the_spec_field_names() {
        let envelope = Envelope::new(Ping {
            customer_id: "c1".to_owned(),
        });
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["eventType"], "Ping");
        assert_eq!(json["version"], 1);
        assert_eq!(json["payload"]["customerId"], "c1");
        assert!(json["eventId"].as_str().unwrap().len() == 36);
        let back: Envelope<Ping> = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }
}
