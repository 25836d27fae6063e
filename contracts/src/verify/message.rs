//! Message verification over the real broker.
//!
//! For each message interaction the verifier binds a queue of its own to the
//! interaction's exchange and routing key (names carry the provider's prefix, so tests
//! stay isolated), sets up the provider states (the provider's fixture then makes the
//! provider's real code publish: outbox, relay, publisher confirms), takes the first
//! message that arrives, and matches its body and metadata against the pact. No Pact
//! tool does this open-source: their message verification calls a function or an HTTP
//! endpoint that returns the message, never the broker.

use std::time::Duration;

use anyhow::Context;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    message::BasicGetMessage,
    options::{
        BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::FieldTable,
};
use serde_json::Value;

use super::{Outcome, Report, StateHandler};
use crate::{
    matching::{Mismatch, compare, compare_text},
    pact::{MessageInteraction, Pact},
};

/// Where the provider publishes.
#[derive(Debug, Clone)]
pub struct BrokerVerifier {
    /// `amqp://...`.
    pub amqp_url: String,
    /// The provider's exchange and queue name prefix (empty in production).
    pub prefix: String,
    /// How long to wait for the event after the state was set up.
    pub deadline: Duration,
}

/// A message as it came off the broker.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body.
    pub body: Vec<u8>,
    /// Its properties.
    pub properties: BasicProperties,
    /// The exchange it was published to (prefixed).
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
}

impl BrokerVerifier {
    /// Verifies every message interaction of `pact`; `provider` publishes them.
    pub async fn verify(&self, pact: &Pact, provider: &dyn StateHandler) -> Report {
        let mut report = Report::default();
        if pact.messages().next().is_none() {
            return report;
        }
        let connection = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .context("connecting to the broker");
        for interaction in pact.messages() {
            let mut outcome = Outcome {
                consumer: pact.consumer.clone(),
                provider: pact.provider.clone(),
                interaction: interaction.description.clone(),
                kind: "Asynchronous/Messages".to_owned(),
                mismatches: Vec::new(),
                error: None,
            };
            let result = match &connection {
                Ok(connection) => self.run(connection, interaction, provider).await,
                Err(err) => Err(anyhow::anyhow!("{err:#}")),
            };
            match result {
                Ok(mismatches) => outcome.mismatches = mismatches,
                Err(err) => outcome.error = Some(format!("{err:#}")),
            }
            report.outcomes.push(outcome);
        }
        if let Ok(connection) = connection {
            let _ = connection.close(200, "verified".into()).await;
        }
        report
    }

    async fn run(
        &self,
        connection: &Connection,
        interaction: &MessageInteraction,
        provider: &dyn StateHandler,
    ) -> anyhow::Result<Vec<Mismatch>> {
        let exchange = interaction.metadata["exchange"]
            .as_str()
            .context("the message has no exchange in its metadata")?;
        let routing_key = interaction.metadata["routingKey"]
            .as_str()
            .context("the message has no routingKey in its metadata")?;
        let channel = connection.create_channel().await?;
        let queue = self.tap(&channel, exchange, routing_key).await?;
        let received = async {
            for state in &interaction.provider_states {
                provider.setup(state).await.map_err(|err| {
                    err.context(format!("setting up provider state {:?}", state.name))
                })?;
            }
            self.take(&channel, &queue).await.with_context(|| {
                format!(
                    "no {routing_key} event arrived on {}{exchange} within {:?}",
                    self.prefix, self.deadline
                )
            })
        }
        .await;
        let _ = channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = channel.close(200, "done".into()).await;
        Ok(message_mismatches(interaction, &received?, &self.prefix))
    }

    /// A queue of our own bound to the exchange (declared if the provider has not yet).
    async fn tap(
        &self,
        channel: &Channel,
        exchange: &str,
        routing_key: &str,
    ) -> anyhow::Result<String> {
        let exchange = format!("{}{exchange}", self.prefix);
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let name = queue.name().as_str().to_owned();
        channel
            .queue_bind(
                name.as_str().into(),
                exchange.as_str().into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(name)
    }

    async fn take(&self, channel: &Channel, queue: &str) -> anyhow::Result<Received> {
        let started = tokio::time::Instant::now();
        loop {
            let got: Option<BasicGetMessage> = channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await?;
            if let Some(message) = got {
                let delivery = message.delivery;
                return Ok(Received {
                    body: delivery.data.clone(),
                    properties: delivery.properties.clone(),
                    exchange: delivery.exchange.as_str().to_owned(),
                    routing_key: delivery.routing_key.as_str().to_owned(),
                });
            }
            anyhow::ensure!(started.elapsed() < self.deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// How a received message differs from the contract's.
pub fn message_mismatches(
    interaction: &MessageInteraction,
    received: &Received,
    prefix: &str,
) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    let short = |s: Option<&lapin::types::ShortString>| s.map(|s| s.as_str().to_owned());
    let actual_metadata = |key: &str| -> Option<String> {
        match key {
            "contentType" => short(received.properties.content_type().as_ref()),
            "messageId" => short(received.properties.message_id().as_ref()),
            "type" => short(received.properties.kind().as_ref()),
            "routingKey" => Some(received.routing_key.clone()),
            "exchange" => Some(
                received
                    .exchange
                    .strip_prefix(prefix)
                    .unwrap_or(&received.exchange)
                    .to_owned(),
            ),
            _ => None,
        }
    };
    for (key, expected) in &interaction.metadata {
        let expected = match expected {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let actual = actual_metadata(key);
        mismatches.extend(compare_text(
            &format!("metadata {key}"),
            &expected,
            actual.as_deref(),
            interaction.metadata_rules.get(key),
        ));
    }
    if let Some(content) = &interaction.contents.content {
        match serde_json::from_slice::<Value>(&received.body) {
            Ok(actual) => mismatches.extend(compare(content, &actual, &interaction.contents.rules)),
            Err(err) => mismatches.push(Mismatch {
                path: "$".to_owned(),
                message: format!("the message body is not JSON: {err}"),
            }),
        }
    }
    mismatches
}
