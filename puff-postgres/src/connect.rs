//! Opening a server connection: the socket (TCP or Unix), wrapped in a
//! [`BatchSocket`](crate::batch::BatchSocket) so that `executemany` can send one-Sync
//! batches, then tokio-postgres's startup over it (`Config::connect_raw`).
//!
//! `connect_raw` leaves the socket to us, so this follows what `Config::connect` does with
//! the URL's settings: every host in turn (with its port, or the one port; `hostaddr`
//! instead of a lookup), `connect_timeout` per attempt, TCP_NODELAY, keepalives and
//! `tcp_user_timeout`, and `target_session_attrs=read-write`. TLS is not offered (Puff
//! connects with `NoTls`, as before).

use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio_postgres::config::{Host, TargetSessionAttrs};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, SimpleQueryMessage};

use crate::batch::{BatchHandle, BatchSocket};
use crate::error::PgError;

/// A server connection's socket.
pub enum RawSocket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

/// The driver half of a pooled connection (see `notify::drive`).
pub type PgConnection = Connection<BatchSocket<RawSocket>, NoTlsStream>;

/// Connect as `config` says; `url` (redacted) names the server in errors.
pub(crate) async fn connect(
    config: &Config,
    url: &str,
) -> Result<(Client, PgConnection, Arc<BatchHandle>), PgError> {
    let hosts = config.get_hosts();
    let ports = config.get_ports();
    let mut last = PgError::Connection(format!("Postgres at {url}: no host to connect to"));
    for (i, host) in hosts.iter().enumerate() {
        let port = match ports {
            [one] => *one,
            many => many.get(i).copied().unwrap_or(5432),
        };
        let hostaddr = config.get_hostaddrs().get(i).copied();
        let socket = match open_socket(config, host, hostaddr, port).await {
            Ok(socket) => socket,
            Err(e) => {
                last = PgError::Connection(format!(
                    "Postgres at {url}: error connecting to server: {e}"
                ));
                continue;
            }
        };
        let (socket, handle) = BatchSocket::new(socket);
        let (client, mut connection) = match config.connect_raw(socket, NoTls).await {
            Ok(pair) => pair,
            Err(e) => {
                last = PgError::from_pg(e, url);
                continue;
            }
        };
        if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
            match read_only(&client, &mut connection).await {
                Ok(false) => {}
                Ok(true) => {
                    last = PgError::Connection(format!(
                        "Postgres at {url}: the server is read-only \
                         (target_session_attrs=read-write)"
                    ));
                    continue;
                }
                Err(e) => {
                    last = PgError::from_pg(e, url);
                    continue;
                }
            }
        }
        return Ok((client, connection, handle));
    }
    Err(last)
}

/// `SHOW transaction_read_only`, driving `connection` until the answer is in.
async fn read_only(
    client: &Client,
    connection: &mut PgConnection,
) -> Result<bool, tokio_postgres::Error> {
    let query = client.simple_query("SHOW transaction_read_only");
    let drive = poll_fn(|cx| match connection.poll_message(cx) {
        Poll::Ready(Some(Err(e))) => Poll::Ready(Err::<(), _>(e)),
        Poll::Ready(_) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Poll::Pending => Poll::Pending,
    });
    let answer = tokio::select! {
        answer = query => answer?,
        Err(e) = drive => return Err(e),
    };
    Ok(answer
        .iter()
        .any(|m| matches!(m, SimpleQueryMessage::Row(row) if row.get(0) == Some("on"))))
}

async fn open_socket(
    config: &Config,
    host: &Host,
    hostaddr: Option<IpAddr>,
    port: u16,
) -> io::Result<RawSocket> {
    let timeout = config.get_connect_timeout().copied();
    match host {
        Host::Tcp(name) => {
            let addrs: Vec<SocketAddr> = match hostaddr {
                Some(ip) => vec![SocketAddr::new(ip, port)],
                None => {
                    with_timeout(timeout, async {
                        Ok(tokio::net::lookup_host((name.as_str(), port))
                            .await?
                            .collect())
                    })
                    .await?
                }
            };
            let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{name}: no address"));
            for addr in addrs {
                match with_timeout(timeout, TcpStream::connect(addr)).await {
                    Ok(stream) => {
                        tune_tcp(config, &stream)?;
                        return Ok(RawSocket::Tcp(stream));
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        #[cfg(unix)]
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            Ok(RawSocket::Unix(
                with_timeout(timeout, UnixStream::connect(path)).await?,
            ))
        }
        #[cfg(not(unix))]
        Host::Unix(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Unix sockets are not supported on this platform",
        )),
    }
}

fn tune_tcp(config: &Config, stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let sock = SockRef::from(stream);
    #[cfg(target_os = "linux")]
    if let Some(t) = config.get_tcp_user_timeout() {
        sock.set_tcp_user_timeout(Some(*t))?;
    }
    if config.get_keepalives() {
        let mut keepalive = TcpKeepalive::new().with_time(config.get_keepalives_idle());
        #[cfg(not(any(target_os = "openbsd", target_os = "haiku")))]
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        #[cfg(not(any(target_os = "openbsd", target_os = "redox", target_os = "solaris")))]
        if let Some(retries) = config.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        sock.set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

async fn with_timeout<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match timeout {
        Some(t) => tokio::time::timeout(t, fut)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))?,
        None => fut.await,
    }
}

impl AsyncRead for RawSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawSocket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            RawSocket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RawSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RawSocket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            RawSocket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawSocket::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            RawSocket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawSocket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            RawSocket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
