//! Idempotent consumers.
//!
//! For each delivery: parse the envelope (unparseable → dead-letter queue at once),
//! open a transaction, record `(consumer, eventId)` in the inbox (already there → a
//! redelivery: acknowledge and stop), run the [`Handler`] in that transaction, commit,
//! then acknowledge. A handler error that retrying cannot fix ([`HandlerError::Permanent`])
//! goes to the dead-letter queue with its reason; a transient one is retried with
//! exponential backoff and dead-lettered after the configured attempts. When the
//! database itself is unreachable the delivery is requeued instead: an outage must not
//! empty the queue into the dead-letter queue.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::{AMQPValue, FieldTable},
};
use serde::de::DeserializeOwned;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::{
    Broker, BrokerError,
    broker::backoff,
    envelope::Envelope,
    topology::{self, DEAD_LETTER_EXCHANGE},
};
use crate::{config::AmqpConfig, metrics::Metrics, telemetry};

/// A delivered event whose envelope parsed.
#[derive(Debug, Clone)]
pub struct Message {
    /// The envelope with the payload not yet interpreted.
    pub envelope: Envelope<serde_json::Value>,
}

impl Message {
    /// The payload as `T`; a payload that does not fit is a permanent failure.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_value(self.envelope.payload.clone()).map_err(|err| {
            HandlerError::Permanent(format!(
                "payload of {} does not match the expected schema: {err}",
                self.envelope.event_type
            ))
        })
    }
}

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Retrying cannot help (invalid payload, unknown event type): dead-letter now.
    #[error("{0}")]
    Permanent(String),
    /// May succeed later (a deadlock, a timeout): retry with backoff.
    #[error("{0}")]
    Transient(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::Transient(format!("database: {err}"))
    }
}

/// Applies one event inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// What the handler hands to [`Handler::committed`].
    type Done: Send;

    /// Applies `message`; every write goes through `tx`, which commits only on `Ok`.
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        message: &'a Message,
    ) -> impl Future<Output = Result<Self::Done, HandlerError>> + Send + 'a;

    /// Runs after the commit (cache evictions); must not fail.
    fn committed(&self, done: Self::Done) -> impl Future<Output = ()> + Send;
}

/// Where a consumer reads from.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The consuming service (`inventory`).
    pub service: &'static str,
    /// The routing key it consumes (`payment.saved`).
    pub routing_key: &'static str,
}

impl ConsumerSpec {
    /// The unprefixed queue name, also the inbox's consumer key.
    pub fn queue(&self) -> String {
        topology::queue_name(self.service, self.routing_key)
    }
}

enum Outcome {
    Applied,
    Duplicate,
    DeadLetter(String),
    Requeue(String),
}

/// Runs a consumer until `shutdown`, reconnecting after broker failures.
pub async fn run<H: Handler>(
    spec: ConsumerSpec,
    handler: H,
    broker: Broker,
    pool: PgPool,
    metrics: Metrics,
    config: AmqpConfig,
    shutdown: CancellationToken,
) {
    let worker = Arc::new(Worker {
        queue: spec.queue(),
        handler,
        broker,
        pool,
        metrics,
        config,
    });
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        match worker.clone().consume(&shutdown).await {
            Ok(()) => break,
            Err(err) => {
                failures += 1;
                let delay = backoff(Duration::from_millis(200), failures, Duration::from_secs(5));
                tracing::warn!(queue = %worker.queue, error = %err, retry_in_ms = delay.as_millis() as u64, "consumer stopped, reconnecting");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => {},
                }
            }
        }
    }
    tracing::info!(queue = %worker.queue, "consumer stopped");
}

struct Worker<H> {
    queue: String,
    handler: H,
    broker: Broker,
    pool: PgPool,
    metrics: Metrics,
    config: AmqpConfig,
}

impl<H: Handler> Worker<H> {
    async fn consume(self: Arc<Self>, shutdown: &CancellationToken) -> Result<(), BrokerError> {
        let connection = self.broker.connection().await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(self.config.prefetch, BasicQosOptions::default())
            .await?;
        let dead_letters = connection.create_channel().await?;
        dead_letters
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                self.broker.name(&self.queue).into(),
                format!("{}-{}", self.queue, Uuid::new_v4().simple()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.queue, "consuming");
        let concurrency = usize::from(self.config.prefetch.max(1));
        consumer
            .take_until(shutdown.cancelled())
            .map_err(BrokerError::from)
            .try_for_each_concurrent(concurrency, |delivery| {
                let worker = self.clone();
                let dead_letters = dead_letters.clone();
                async move { worker.process(delivery, &dead_letters).await }
            })
            .await?;
        let _ = channel.close(200, "consumer stopped".into()).await;
        let _ = dead_letters.close(200, "consumer stopped".into()).await;
        Ok(())
    }

    async fn process(&self, delivery: Delivery, dead_letters: &Channel) -> Result<(), BrokerError> {
        let headers = string_headers(&delivery.properties);
        let span = tracing::info_span!("amqp.consume", queue = %self.queue, message.id = tracing::field::Empty);
        let parent = telemetry::context_from_map(&headers);
        let outcome = telemetry::in_span(span.clone(), parent, self.apply(&delivery)).await;
        // Instrumented, never `span.enter()` across an await: an entered guard held over
        // an await leaks the span into whatever else runs on the thread.
        self.settle(outcome, &delivery, dead_letters)
            .instrument(span)
            .await
    }

    async fn settle(
        &self,
        outcome: Outcome,
        delivery: &Delivery,
        dead_letters: &Channel,
    ) -> Result<(), BrokerError> {
        match outcome {
            Outcome::Applied => {
                self.metrics.consumed(&self.queue, "processed");
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Outcome::Duplicate => {
                tracing::info!("duplicate delivery acknowledged without effect");
                self.metrics.consumed(&self.queue, "duplicate");
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Outcome::DeadLetter(reason) => {
                tracing::error!(reason = %reason, "message dead-lettered");
                self.dead_letter(delivery, &reason, dead_letters).await?;
                self.metrics.consumed(&self.queue, "dead_lettered");
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Outcome::Requeue(reason) => {
                let delay = backoff(self.config.retry_base, 3, Duration::from_secs(5));
                tracing::warn!(reason = %reason, "database unavailable, message requeued");
                self.metrics.consumed(&self.queue, "requeued");
                tokio::time::sleep(delay).await;
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn apply(&self, delivery: &Delivery) -> Outcome {
        let envelope: Envelope<serde_json::Value> = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(err) => return Outcome::DeadLetter(format!("invalid envelope JSON: {err}")),
        };
        tracing::Span::current().record("message.id", tracing::field::display(envelope.event_id));
        let message = Message { envelope };
        let attempts = self.config.max_attempts.max(1);
        for attempt in 1..=attempts {
            let mut tx = match self.pool.begin().await {
                Ok(tx) => tx,
                Err(err) => return Outcome::Requeue(err.to_string()),
            };
            let inserted = sqlx::query(
                "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&self.queue)
            .bind(message.envelope.event_id)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(result) if result.rows_affected() == 0 => return Outcome::Duplicate,
                Ok(_) => {}
                Err(err) => return Outcome::Requeue(err.to_string()),
            }
            match self.handler.handle(&mut tx, &message).await {
                Ok(done) => {
                    return match tx.commit().await {
                        Ok(()) => {
                            self.handler.committed(done).await;
                            Outcome::Applied
                        }
                        Err(err) => Outcome::Requeue(err.to_string()),
                    };
                }
                Err(HandlerError::Permanent(reason)) => return Outcome::DeadLetter(reason),
                Err(HandlerError::Transient(reason)) => {
                    drop(tx);
                    if attempt == attempts {
                        return Outcome::DeadLetter(format!(
                            "gave up after {attempts} attempts: {reason}"
                        ));
                    }
                    self.metrics.consumed(&self.queue, "retried");
                    let delay =
                        backoff(self.config.retry_base, attempt - 1, Duration::from_secs(10));
                    tracing::warn!(attempt, reason = %reason, retry_in_ms = delay.as_millis() as u64, "handler failed, retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
        Outcome::DeadLetter("no attempt made".to_owned())
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        channel: &Channel,
    ) -> Result<(), BrokerError> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        let text = |s: &str| AMQPValue::LongString(s.into());
        headers.insert("x-failure-reason".into(), text(reason));
        headers.insert("x-failed-at".into(), text(&Utc::now().to_rfc3339()));
        headers.insert(
            "x-original-exchange".into(),
            text(delivery.exchange.as_str()),
        );
        headers.insert(
            "x-original-routing-key".into(),
            text(delivery.routing_key.as_str()),
        );
        headers.insert("x-consumer-queue".into(), text(&self.queue));
        let properties = delivery.properties.clone().with_headers(headers);
        let confirmation = channel
            .basic_publish(
                self.broker.name(DEAD_LETTER_EXCHANGE).into(),
                self.broker.name(&self.queue).into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                properties,
            )
            .await?
            .await?;
        if confirmation.is_ack() {
            Ok(())
        } else {
            Err(BrokerError::Rejected(
                "dead-letter publish not confirmed".to_owned(),
            ))
        }
    }
}

/// String-valued AMQP headers (trace context, failure reasons).
pub fn string_headers(properties: &BasicProperties) -> HashMap<String, String> {
    let mut map = HashMap::new();
    if let Some(headers) = properties.headers() {
        for (key, value) in headers.inner() {
            let text = match value {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.as_str().to_owned(),
                _ => continue,
            };
            map.insert(key.as_str().to_owned(), text);
        }
    }
    map
}
