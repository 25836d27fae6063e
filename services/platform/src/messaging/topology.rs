//! The shop's message topology, in one place.
//!
//! Topic exchanges as in the original (`address.topic`, `product.topic`,
//! `payment.topic`, plus `order.topic`), one durable quorum queue per consumer and
//! routing key (`<consumer>.<routing key>`), and per queue a dead-letter queue
//! (`<queue>.dlq`) behind the direct exchange `dead-letter`. Every service declares all
//! of it, so a publisher never finds an exchange with no queue behind it even if the
//! consumer has never run. Every name gets the configured prefix (tests use a random
//! one to isolate themselves).

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable},
};

/// One routing key and the services that consume it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Topic exchange.
    pub exchange: &'static str,
    /// Routing key.
    pub routing_key: &'static str,
    /// Consuming services; each gets its own queue.
    pub consumers: &'static [&'static str],
}

/// Every exchange.
pub const EXCHANGES: &[&str] = &[
    "address.topic",
    "product.topic",
    "payment.topic",
    "order.topic",
];

/// The direct exchange dead letters go through; routing key = the failed queue's name.
pub const DEAD_LETTER_EXCHANGE: &str = "dead-letter";

/// Every routing key with its consumers. The saga: `address.primary-saved` and
/// `product.available` feed payment's projections; `payment.saved` → inventory takes the
/// stock → `product.checked` → payment approves (`payment.approved` → order creates the
/// order) or cancels (`payment.cancelled`). Compensation: `order.cancelled` → payment
/// refunds → `payment.refunded` (with the quantities) → inventory restores the stock.
pub const ROUTES: &[Route] = &[
    Route {
        exchange: "address.topic",
        routing_key: "address.primary-saved",
        consumers: &["payment"],
    },
    Route {
        exchange: "product.topic",
        routing_key: "product.available",
        consumers: &["payment"],
    },
    Route {
        exchange: "product.topic",
        routing_key: "product.checked",
        consumers: &["payment"],
    },
    Route {
        exchange: "payment.topic",
        routing_key: "payment.saved",
        consumers: &["inventory"],
    },
    Route {
        exchange: "payment.topic",
        routing_key: "payment.approved",
        consumers: &["order"],
    },
    Route {
        exchange: "payment.topic",
        routing_key: "payment.cancelled",
        consumers: &[],
    },
    Route {
        exchange: "payment.topic",
        routing_key: "payment.refunded",
        consumers: &["inventory"],
    },
    Route {
        exchange: "order.topic",
        routing_key: "order.cancelled",
        consumers: &["payment"],
    },
];

/// Deliveries after which RabbitMQ itself dead-letters a message (a consumer that
/// crashes on it every time would otherwise loop forever).
pub const DELIVERY_LIMIT: i64 = 20;

/// The unprefixed queue `consumer` reads `routing_key` from.
pub fn queue_name(consumer: &str, routing_key: &str) -> String {
    format!("{consumer}.{routing_key}")
}

/// The dead-letter queue of `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// Whether an event with this routing key has at least one consumer queue, i.e. whether
/// it must be published `mandatory` (an unroutable event then stays in the outbox).
pub fn has_consumers(routing_key: &str) -> bool {
    ROUTES
        .iter()
        .any(|route| route.routing_key == routing_key && !route.consumers.is_empty())
}

/// All exchanges and queues, prefixed: what a test deletes when it is done.
pub fn all_names(prefix: &str) -> (Vec<String>, Vec<String>) {
    let mut exchanges: Vec<String> = EXCHANGES.iter().map(|e| format!("{prefix}{e}")).collect();
    exchanges.push(format!("{prefix}{DEAD_LETTER_EXCHANGE}"));
    let mut queues = Vec::new();
    for route in ROUTES {
        for consumer in route.consumers {
            let queue = queue_name(consumer, route.routing_key);
            queues.push(format!("{prefix}{}", dead_letter_queue(&queue)));
            queues.push(format!("{prefix}{queue}"));
        }
    }
    (exchanges, queues)
}

fn quorum(extra: &[(&str, AMQPValue)]) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    for (key, value) in extra {
        args.insert((*key).into(), value.clone());
    }
    args
}

/// Declares everything (idempotent).
pub async fn declare(channel: &Channel, prefix: &str) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for exchange in EXCHANGES {
        channel
            .exchange_declare(
                format!("{prefix}{exchange}").into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
    }
    let dlx = format!("{prefix}{DEAD_LETTER_EXCHANGE}");
    channel
        .exchange_declare(
            dlx.clone().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    let queue_options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for route in ROUTES {
        for consumer in route.consumers {
            let queue = format!("{prefix}{}", queue_name(consumer, route.routing_key));
            let dlq = dead_letter_queue(&queue);
            channel
                .queue_declare(dlq.clone().into(), queue_options, quorum(&[]))
                .await?;
            channel
                .queue_bind(
                    dlq.into(),
                    dlx.clone().into(),
                    queue.clone().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let args = quorum(&[
                (
                    "x-dead-letter-exchange",
                    AMQPValue::LongString(dlx.clone().into()),
                ),
                (
                    "x-dead-letter-routing-key",
                    AMQPValue::LongString(queue.clone().into()),
                ),
                ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
            ]);
            channel
                .queue_declare(queue.clone().into(), queue_options, args)
                .await?;
            channel
                .queue_bind(
                    queue.into(),
                    format!("{prefix}{}", route.exchange).into(),
                    route.routing_key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_uses_a_declared_exchange() {
        for route in ROUTES {
            assert!(EXCHANGES.contains(&route.exchange), "{route:?}");
        }
    }

    #[test]
    fn names_carry_the_prefix_and_every_queue_has_a_dead_letter_queue() {
        let (exchanges, queues) = all_names("t1.");
        assert!(exchanges.iter().all(|e| e.starts_with("t1.")));
        assert!(queues.contains(&"t1.inventory.payment.saved".to_owned()));
        assert!(queues.contains(&"t1.inventory.payment.saved.dlq".to_owned()));
        assert!(has_consumers("payment.saved"));
        assert!(!has_consumers("payment.cancelled"));
        assert!(has_consumers("payment.refunded"));
    }
}
