//! Running an axum router on a socket the way every server here needs: bind errors that name
//! the address, and a handle that stops the server when dropped.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not a socket address.
    #[error("`{addr}` is not a socket address such as 127.0.0.1:7400")]
    BadAddress {
        /// What was given.
        addr: String,
    },
    /// Binding failed (port in use, no permission, …).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server; dropping it stops the server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server ends (it runs until stopped).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `addr` (a `host:port` text).
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    let parsed: SocketAddr = addr.parse().map_err(|_| ServeError::BadAddress {
        addr: addr.to_string(),
    })?;
    TcpListener::bind(parsed)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Serves `router` on `listener` in a background task, with peer addresses available to
/// handlers through `ConnectInfo<SocketAddr>`.
pub fn spawn(listener: TcpListener, router: Router) -> Result<ServerHandle, ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: "listener".into(),
        source,
    })?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Serves `router` over TLS (rustls, the certificate in `config`) on `listener` in a
/// background task, with peer addresses available like [`spawn`]'s.
pub fn spawn_tls(
    listener: TcpListener,
    router: Router,
    config: axum_server::tls_rustls::RustlsConfig,
) -> Result<ServerHandle, ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: "listener".into(),
        source,
    })?;
    let (tx, rx) = oneshot::channel::<()>();
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopper = handle.clone();
    let task = tokio::spawn(async move {
        // Stop when told, or when the ServerHandle is gone.
        let watch = tokio::spawn(async move {
            let _ = rx.await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(1)));
        });
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum_server::Server::<SocketAddr>::from_listener(listener)
            .acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config))
            .handle(handle)
            .serve(service)
            .await;
        watch.abort();
    });
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}
