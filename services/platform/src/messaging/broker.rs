//! The service's connection to RabbitMQ.
//!
//! Connects lazily and again after any failure, declaring the topology on every new
//! connection, so a broker restart needs no service restart. Callers (outbox relay,
//! consumers, readiness) ask for the connection when they need it and retry with
//! backoff when it is not there.

use std::{sync::Arc, time::Duration};

use lapin::{Connection, ConnectionProperties};
use secrecy::SecretString;
use tokio::sync::Mutex;

use super::topology;
use crate::config::{AmqpConfig, expose};

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The AMQP client failed.
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker did not answer in time.
    #[error("broker did not answer within {0:?}")]
    Timeout(Duration),
    /// The broker refused or returned a message.
    #[error("broker rejected the message: {0}")]
    Rejected(String),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A shared, self-healing connection; cheap to clone.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    url: SecretString,
    prefix: String,
    name: String,
    /// The last connection made; read without waiting on a connection attempt.
    current: std::sync::Mutex<Option<Arc<Connection>>>,
    /// Held while connecting, so that one caller connects and the others wait for it.
    connecting: Mutex<()>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("prefix", &self.inner.prefix)
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Nothing is connected until first use.
    pub fn new(config: &AmqpConfig, connection_name: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                url: config.url.clone(),
                prefix: config.prefix.clone(),
                name: connection_name.to_owned(),
                current: std::sync::Mutex::new(None),
                connecting: Mutex::new(()),
            }),
        }
    }

    /// The name prefix of every exchange and queue.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// `name` with the prefix.
    pub fn name(&self, name: &str) -> String {
        format!("{}{name}", self.inner.prefix)
    }

    /// A live connection, opened (and the topology declared) if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>, BrokerError> {
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        let _connecting = self.inner.connecting.lock().await;
        // Someone else may have connected while this caller waited.
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        self.current().take();
        let properties =
            ConnectionProperties::default().with_connection_name(self.inner.name.clone().into());
        let connection = tokio::time::timeout(
            CONNECT_TIMEOUT,
            Connection::connect(expose(&self.inner.url), properties),
        )
        .await
        .map_err(|_| BrokerError::Timeout(CONNECT_TIMEOUT))??;
        let channel = connection.create_channel().await?;
        topology::declare(&channel, &self.inner.prefix).await?;
        let _ = channel.close(200, "topology declared".into()).await;
        tracing::info!(broker.connection = %self.inner.name, "connected to the broker");
        let connection = Arc::new(connection);
        *self.current() = Some(connection.clone());
        Ok(connection)
    }

    /// The current connection if it is up.
    fn live(&self) -> Option<Arc<Connection>> {
        self.current()
            .as_ref()
            .filter(|connection| connection.status().connected())
            .cloned()
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Arc<Connection>>> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Readiness: whether the connection is up, answered at once. A probe must not wait
    /// on a broker that does not answer; when there is no connection, one is started in
    /// the background (the relay and the consumers reconnect by themselves too) and the
    /// next probe sees it.
    pub async fn check(&self) -> Result<(), String> {
        if self.live().is_some() {
            return Ok(());
        }
        if self.inner.connecting.try_lock().is_ok() {
            let broker = self.clone();
            tokio::spawn(async move {
                if let Err(err) = broker.connection().await {
                    tracing::debug!(error = %err, "background broker connection failed");
                }
            });
        }
        Err("not connected to the broker (reconnecting)".to_owned())
    }

    /// Closes the connection (graceful shutdown).
    pub async fn close(&self) {
        let _connecting = self.inner.connecting.lock().await;
        let current = self.current().take();
        if let Some(connection) = current {
            let _ = connection.close(200, "shutting down".into()).await;
        }
    }
}

/// Exponential backoff with jitter: a random delay between half and all of `min(cap, base·2^attempt)`.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let ceiling = exp.min(cap);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::random_range(millis / 2..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for _ in 0..100 {
            let first = backoff(base, 0, cap);
            assert!(first >= Duration::from_millis(50) && first <= base);
            let late = backoff(base, 10, cap);
            assert!(late >= Duration::from_secs(1) && late <= cap);
        }
    }
}
