//! The transactional outbox.
//!
//! [`enqueue`] writes an event into the `outbox` table inside the caller's transaction:
//! the event exists if and only if the state change committed. The [`Relay`] publishes
//! pending rows in id order with publisher confirms and marks them published in the same
//! database transaction that locked them (`FOR UPDATE SKIP LOCKED`, so replicas share the
//! work without publishing a row twice). If the broker is down, rows wait and the relay
//! retries with backoff; once the broker is back every row goes out. The only duplicate
//! possible is a crash between the broker's confirm and our commit, which the consumers'
//! inbox absorbs.
//!
//! Commits wake the relay through `NOTIFY outbox`, with polling as a fallback.

use std::{collections::HashMap, time::Duration};

use futures::future::try_join_all;
use lapin::{
    BasicProperties, Channel, Confirmation,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable},
};
use sqlx::{PgConnection, PgPool, Row, postgres::PgListener};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Broker, BrokerError,
    broker::backoff,
    envelope::{Envelope, Event},
    topology,
};
use crate::{metrics::Metrics, telemetry};

const CHANNEL: &str = "outbox";

/// How long the relay waits for the broker to confirm a batch.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes `payload` as an event in the caller's transaction; returns its id.
pub async fn enqueue<E: Event>(conn: &mut PgConnection, payload: E) -> Result<Uuid, sqlx::Error> {
    let envelope = Envelope::new(payload);
    let body = serde_json::to_value(&envelope).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    let headers = serde_json::to_value(telemetry::current_context_map())
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    sqlx::query(
        "INSERT INTO outbox (event_id, exchange, routing_key, event_type, body, headers)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(envelope.event_id)
    .bind(E::EXCHANGE)
    .bind(E::ROUTING_KEY)
    .bind(E::TYPE)
    .bind(body)
    .bind(headers)
    .execute(&mut *conn)
    .await?;
    // Delivered to listeners only when the transaction commits.
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(envelope.event_id)
}

/// Why a relay round failed.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

impl From<lapin::Error> for RelayError {
    fn from(err: lapin::Error) -> Self {
        Self::Broker(BrokerError::Amqp(err))
    }
}

/// Publishes the outbox; run one per service replica.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    broker: Broker,
    metrics: Metrics,
    /// Rows per round.
    pub batch_size: i64,
    /// Fallback polling interval when no notification arrives.
    pub poll_interval: Duration,
}

struct Row_ {
    id: i64,
    event_id: Uuid,
    exchange: String,
    routing_key: String,
    event_type: String,
    body: serde_json::Value,
    headers: serde_json::Value,
}

impl Relay {
    /// A relay with default batch size (100) and polling interval (1 s).
    pub fn new(pool: PgPool, broker: Broker, metrics: Metrics) -> Self {
        Self {
            pool,
            broker,
            metrics,
            batch_size: 100,
            poll_interval: Duration::from_secs(1),
        }
    }

    /// Relays until `shutdown`, then makes one last attempt to flush.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut channel: Option<Channel> = None;
        let mut listener: Option<PgListener> = None;
        let mut failures = 0u32;
        loop {
            if listener.is_none() {
                listener = match PgListener::connect_with(&self.pool).await {
                    Ok(mut l) => l.listen(CHANNEL).await.ok().map(|()| l),
                    Err(_) => None,
                };
            }
            match self.round(&mut channel).await {
                Ok(published) => {
                    failures = 0;
                    if published as i64 >= self.batch_size {
                        continue;
                    }
                }
                Err(err) => {
                    failures += 1;
                    channel = None;
                    let delay =
                        backoff(Duration::from_millis(200), failures, Duration::from_secs(5));
                    tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "outbox relay round failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => continue,
                    }
                }
            }
            self.update_lag().await;
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(drop).map_err(drop),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                result = notified => if result.is_err() { listener = None; },
                () = tokio::time::sleep(self.poll_interval) => {},
            }
        }
        // Flush what committed before shutdown, bounded in time.
        let flush = async {
            while let Ok(n) = self.round(&mut channel).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), flush).await;
    }

    async fn publisher(&self, channel: &mut Option<Channel>) -> Result<Channel, RelayError> {
        if let Some(ch) = channel.as_ref()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        let connection = self.broker.connection().await?;
        let ch = connection.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *channel = Some(ch.clone());
        Ok(ch)
    }

    /// One round: lock a batch, publish it, wait for the confirms, mark it published.
    async fn round(&self, channel: &mut Option<Channel>) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, event_id, exchange, routing_key, event_type, body, headers
             FROM outbox WHERE published_at IS NULL
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Row_> = rows
            .into_iter()
            .map(|row| {
                Ok(Row_ {
                    id: row.try_get("id")?,
                    event_id: row.try_get("event_id")?,
                    exchange: row.try_get("exchange")?,
                    routing_key: row.try_get("routing_key")?,
                    event_type: row.try_get("event_type")?,
                    body: row.try_get("body")?,
                    headers: row.try_get("headers")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let publisher = match self.publisher(channel).await {
            Ok(ch) => ch,
            Err(err) => {
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)",
                )
                .bind(&ids)
                .bind(err.to_string())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Err(err);
            }
        };
        // Bounded: a publish or confirm that never completes must not stall the relay
        // forever. On timeout the channel is dropped and the batch retried; a duplicate
        // is absorbed by the consumers' inbox.
        let publish_all = async {
            let mut confirms = Vec::with_capacity(rows.len());
            for row in &rows {
                let body = serde_json::to_vec(&row.body).unwrap_or_default();
                let mut headers = FieldTable::default();
                if let Ok(map) =
                    serde_json::from_value::<HashMap<String, String>>(row.headers.clone())
                {
                    for (key, value) in map {
                        headers.insert(key.into(), AMQPValue::LongString(value.into()));
                    }
                }
                let properties = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_message_id(row.event_id.to_string().into())
                    .with_type(row.event_type.clone().into())
                    .with_delivery_mode(2)
                    .with_headers(headers);
                let confirm = publisher
                    .basic_publish(
                        self.broker.name(&row.exchange).into(),
                        row.routing_key.clone().into(),
                        BasicPublishOptions {
                            mandatory: topology::has_consumers(&row.routing_key),
                            ..BasicPublishOptions::default()
                        },
                        &body,
                        properties,
                    )
                    .await?;
                confirms.push(confirm);
            }
            try_join_all(confirms).await
        };
        let confirmations = tokio::time::timeout(CONFIRM_TIMEOUT, publish_all)
            .await
            .map_err(|_| BrokerError::Timeout(CONFIRM_TIMEOUT))??;
        for (row, confirmation) in rows.iter().zip(&confirmations) {
            match confirmation {
                Confirmation::Ack(None) | Confirmation::NotRequested => {}
                Confirmation::Ack(Some(_)) => {
                    return Err(BrokerError::Rejected(format!(
                        "event {} to {}/{} is unroutable",
                        row.event_id, row.exchange, row.routing_key
                    ))
                    .into());
                }
                Confirmation::Nack(_) => {
                    return Err(
                        BrokerError::Rejected(format!("event {} nacked", row.event_id)).into(),
                    );
                }
            }
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        sqlx::query(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.metrics.outbox_published.inc_by(rows.len() as u64);
        tracing::debug!(events = rows.len(), "outbox relayed");
        Ok(rows.len())
    }

    async fn update_lag(&self) {
        let stats = sqlx::query(
            "SELECT count(*) AS pending,
                    COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0) AS lag
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await;
        if let Ok(row) = stats {
            let pending: i64 = row.try_get("pending").unwrap_or_default();
            let lag: f64 = row.try_get("lag").unwrap_or_default();
            self.metrics.outbox_pending.set(pending);
            self.metrics.outbox_lag_seconds.set(lag);
        }
    }
}
