//! [`PgError`]: what the Rust API returns, and its DB-API 2.0 category for Python.

/// DB-API 2.0 exception category an error maps to in `puff.postgres`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Interface,
    Database,
    Data,
    Operational,
    Integrity,
    Internal,
    Programming,
    NotSupported,
}

/// Every error of the Postgres subsystem. Messages never contain passwords.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server reported an error (SQLSTATE in `code`).
    #[error("{message}")]
    Db {
        code: String,
        message: String,
        detail: Option<String>,
    },
    /// No connection could be made, or an open one broke.
    #[error("{0}")]
    Connection(String),
    /// Every connection of the pool stayed busy for the whole acquire timeout.
    #[error(
        "timed out after {timeout_ms} ms waiting for a connection from Postgres pool `{pool}` \
         (all {pool_size} connections busy; raise pool_size or acquire_timeout_ms)"
    )]
    AcquireTimeout {
        pool: String,
        pool_size: u32,
        timeout_ms: u64,
    },
    /// A value could not be converted to or from Postgres.
    #[error("{0}")]
    Conversion(String),
    /// Bad use of the API (unknown pool, closed connection, ...).
    #[error("{0}")]
    Interface(String),
    #[error("{0}")]
    Config(String),
}

impl PgError {
    /// Convert a tokio-postgres error; `url` (already redacted) names the server for
    /// connection failures.
    pub fn from_pg(err: tokio_postgres::Error, url: &str) -> PgError {
        if let Some(db) = err.as_db_error() {
            return PgError::Db {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
                detail: db.detail().map(str::to_owned),
            };
        }
        let text = error_chain(&err);
        if !err.is_closed()
            && (text.starts_with("error serializing") || text.starts_with("error deserializing"))
        {
            return PgError::Conversion(text);
        }
        if !err.is_closed() && text.contains("parameters but") {
            return PgError::Interface(text);
        }
        // Everything else from the client is about the connection (refused, reset, closed,
        // TLS, authentication without a server error, ...).
        PgError::Connection(format!("Postgres at {url}: {text}"))
    }

    /// SQLSTATE code of a server error.
    pub fn code(&self) -> Option<&str> {
        match self {
            PgError::Db { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The DB-API category, from the SQLSTATE class for server errors (as psycopg2 does).
    pub fn kind(&self) -> ErrorKind {
        match self {
            PgError::Db { code, .. } => match code.get(..2).unwrap_or("") {
                "23" => ErrorKind::Integrity,
                "22" => ErrorKind::Data,
                "42" | "21" | "2B" | "34" | "3D" | "3F" => ErrorKind::Programming,
                "08" | "28" | "40" | "53" | "54" | "55" | "57" | "58" => ErrorKind::Operational,
                "0A" => ErrorKind::NotSupported,
                "XX" | "25" | "26" | "2D" | "2F" | "39" | "3B" | "P0" => ErrorKind::Internal,
                _ => ErrorKind::Database,
            },
            PgError::Connection(_) | PgError::AcquireTimeout { .. } => ErrorKind::Operational,
            PgError::Conversion(_) => ErrorKind::Data,
            PgError::Interface(_) | PgError::Config(_) => ErrorKind::Interface,
        }
    }

    /// True when the connection this came from can no longer be used.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, PgError::Connection(_))
    }
}

/// `err` and its sources, joined with `: ` (tokio-postgres puts the cause in `source`).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_classes_map_like_psycopg2() {
        let db = |code: &str| PgError::Db {
            code: code.into(),
            message: String::new(),
            detail: None,
        };
        assert_eq!(db("23505").kind(), ErrorKind::Integrity);
        assert_eq!(db("22012").kind(), ErrorKind::Data);
        assert_eq!(db("42P01").kind(), ErrorKind::Programming);
        assert_eq!(db("57P01").kind(), ErrorKind::Operational);
        assert_eq!(db("0A000").kind(), ErrorKind::NotSupported);
        assert_eq!(db("XX000").kind(), ErrorKind::Internal);
        assert_eq!(db("P0001").kind(), ErrorKind::Internal);
        assert_eq!(db("HV000").kind(), ErrorKind::Database);
        assert_eq!(
            PgError::Connection("x".into()).kind(),
            ErrorKind::Operational
        );
    }
}
