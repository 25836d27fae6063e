//! A TCP proxy between a service and a dependency, to simulate outages.
//!
//! [`TcpProxy::cut`] closes every open connection and refuses new ones (as a dead host
//! or a broken network would); [`TcpProxy::restore`] lets connections through again.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let open = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let task = {
            let open = open.clone();
            let generation = generation.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cut = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Ok(Self {
            addr,
            open,
            generation,
            task,
        })
    }

    /// Listens on a free local port and forwards to the host and port of `url`
    /// (`postgres://`, `amqp://`, `redis://`…; the scheme's default port if none is given).
    pub async fn in_front_of(url: &str) -> std::io::Result<Self> {
        Self::start(upstream_of(url)?).await
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` rewritten to connect through this proxy (credentials, path and query kept).
    pub fn url_through(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("a valid URL");
        parsed
            .set_host(Some("127.0.0.1"))
            .expect("the URL can carry a host");
        parsed
            .set_port(Some(self.addr.port()))
            .expect("the URL can carry a port");
        parsed.to_string()
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// The socket address `url` points at.
fn upstream_of(url: &str) -> std::io::Result<SocketAddr> {
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    let parsed = url::Url::parse(url).map_err(|err| invalid(format!("{url}: {err}")))?;
    let host = match parsed.host_str() {
        Some("localhost") => "127.0.0.1",
        Some(host) => host,
        None => return Err(invalid(format!("{url} names no host"))),
    };
    let port = parsed
        .port()
        .or_else(|| match parsed.scheme() {
            "postgres" | "postgresql" => Some(5432),
            "amqp" => Some(5672),
            "amqps" => Some(5671),
            "redis" | "rediss" => Some(6379),
            _ => parsed.port_or_known_default(),
        })
        .ok_or_else(|| invalid(format!("{url} names no port")))?;
    format!("{host}:{port}")
        .parse()
        .map_err(|err| invalid(format!("{url}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_come_from_the_url_or_the_schemes_default_port() {
        assert_eq!(
            upstream_of("postgres://postgres@localhost/db").unwrap(),
            "127.0.0.1:5432".parse().unwrap()
        );
        assert_eq!(
            upstream_of("amqp://guest:guest@127.0.0.1:5673/%2f").unwrap(),
            "127.0.0.1:5673".parse().unwrap()
        );
        assert!(upstream_of("not a url").is_err());
    }
}
