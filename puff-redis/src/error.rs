//! [`RedisError`]: what the Rust API returns, mapped to `puff.redis` exceptions in Python.

/// Every error of the Redis subsystem. Messages never contain passwords.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RedisError {
    /// The server replied with an error; the text is the server's (`WRONGTYPE ...`).
    #[error("{0}")]
    Response(String),
    /// No connection could be made, or an open one broke.
    #[error("{0}")]
    Connection(String),
    /// A reply, a connection or a free pool slot took too long.
    #[error("{0}")]
    Timeout(String),
    /// A value that cannot be sent to Redis or read back as asked.
    #[error("{0}")]
    Data(String),
    /// Bad configuration or use of the API (unknown pool, ...).
    #[error("{0}")]
    Config(String),
}

impl RedisError {
    /// Convert a redis-rs error; `url` (already redacted) names the server for connection
    /// failures.
    pub fn from_redis(err: &redis::RedisError, url: &str) -> RedisError {
        if err.is_timeout() {
            return RedisError::Timeout(format!("Redis at {url} did not answer in time: {err}"));
        }
        if is_connection_failure(err) {
            return RedisError::Connection(format!("cannot talk to Redis at {url}: {err}"));
        }
        match err.code() {
            Some(code) => RedisError::Response(server_message(code, err.detail())),
            None => RedisError::Response(err.to_string()),
        }
    }

    /// A server error that arrived as a reply value (inside a pipeline).
    pub fn from_server(err: impl Into<redis::RedisError>) -> RedisError {
        RedisError::from_redis(&err.into(), "")
    }
}

/// True when the connection that produced `err` should not be reused.
pub(crate) fn breaks_connection(err: &redis::RedisError) -> bool {
    err.is_timeout() || is_connection_failure(err)
}

fn is_connection_failure(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_unrecoverable_error()
}

/// The message as the server sent it: `CODE detail`.
fn server_message(code: &str, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{code} {detail}"),
        None => code.to_owned(),
    }
}
