//! [`PostgresPool`]: one named mobc pool of tokio-postgres clients, and the Rust query API.

use puff_greenlet::PoolStatus;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use mobc::async_trait;
use tokio_postgres::types::{Kind, ToSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage, Statement};

use crate::config::PostgresConfig;
use crate::error::PgError;
use crate::insert_types;
use crate::value::interval_text::IntervalStyle;
use crate::value::{Value, text};
use puff_greenlet::redact_url;

/// A connection idle longer than this gets a round trip to the server before reuse.
const RECHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Most prepared statements cached per connection.
const STATEMENT_CACHE_SIZE: usize = 512;

/// Prepared statements of one SQL text, by the parameter type OIDs they were prepared with.
type StatementVariants = Vec<(Box<[u32]>, Statement)>;

/// A pooled tokio-postgres client with its prepared statement cache.
pub struct PgClient {
    client: Client,
    /// Keyed by SQL, then by parameter OIDs (the same text may run with an int one time
    /// and a NULL the next: each typing is its own prepared statement).
    statements: HashMap<String, StatementVariants>,
    /// [`BatchHandle::literal_settings`](crate::batch::BatchHandle::literal_settings) when
    /// `statements` was last known to match the session's settings.
    statements_settings: u64,
    url: String,
    /// The `TimeZone` this session was last set to (by the pool, or by a statement that
    /// set the zone); None: the server's default.
    timezone: Option<String>,
    /// The session's actual `TimeZone` (the server's default, the pool's or a later
    /// `SET`), which timestamptz results are shown in.
    session_zone: Option<std::sync::Arc<str>>,
    /// A statement that may have set the zone ran since the last transaction end.
    zone_set_in_transaction: bool,
    /// Inside `BEGIN` ... `COMMIT` / `ROLLBACK` run through [`PgClient::batch_execute`].
    in_transaction: bool,
    /// When the pool last handed it out (or opened it).
    checked_out_at: std::time::Instant,
    /// `NOTIFY` messages received for this session's `LISTEN`s, oldest first.
    notifications: crate::notify::NotificationQueue,
    /// Sends `executemany` batches with one Sync (see `batch.rs`).
    batch: std::sync::Arc<crate::batch::BatchHandle>,
    /// The pool's name, for statement spans.
    pool_name: std::sync::Arc<str>,
}

/// A connection checked out of a pool; returned to the pool when dropped.
pub type PooledClient = mobc::Connection<PgManager>;

/// Opens connections for a pool (mobc manager).
pub struct PgManager {
    config: tokio_postgres::Config,
    redacted_url: String,
    statement_timeout_ms: Option<u64>,
    /// `TimeZone` every session runs in (None: the server's default); see
    /// [`PostgresPool::set_session_timezone`].
    session_timezone: SessionTimezone,
    /// False: close connections when they are given back instead of keeping them idle.
    keep_idle: bool,
    pool_name: std::sync::Arc<str>,
}

/// The time zone of a pool's sessions, shared by the pool and its manager.
type SessionTimezone = std::sync::Arc<std::sync::RwLock<Option<String>>>;

fn read_timezone(tz: &SessionTimezone) -> Option<String> {
    tz.read().map(|tz| tz.clone()).unwrap_or_default()
}

/// `SET TIME ZONE` for `tz`, quoted as a literal (the value comes from configuration).
pub(crate) fn set_time_zone_sql(tz: &str) -> String {
    format!("SET TIME ZONE '{}'", tz.replace('\'', "''"))
}

#[async_trait]
impl mobc::Manager for PgManager {
    type Connection = PgClient;
    type Error = PgError;

    async fn connect(&self) -> Result<PgClient, PgError> {
        let (client, connection, batch) =
            crate::connect::connect(&self.config, &self.redacted_url).await?;
        let server_zone = connection.parameter("TimeZone").map(std::sync::Arc::from);
        let notifications = crate::notify::drive(connection, self.redacted_url.clone());
        if let Some(ms) = self.statement_timeout_ms {
            client
                .batch_execute(&format!("SET statement_timeout = {ms}"))
                .await
                .map_err(|e| PgError::from_pg(e, &self.redacted_url))?;
        }
        let timezone = read_timezone(&self.session_timezone);
        if let Some(tz) = &timezone {
            client
                .batch_execute(&set_time_zone_sql(tz))
                .await
                .map_err(|e| PgError::from_pg(e, &self.redacted_url))?;
        }
        Ok(PgClient {
            client,
            statements: HashMap::new(),
            statements_settings: batch.literal_settings(),
            url: self.redacted_url.clone(),
            session_zone: timezone
                .as_deref()
                .map(std::sync::Arc::from)
                .or(server_zone),
            zone_set_in_transaction: false,
            in_transaction: false,
            timezone,
            checked_out_at: std::time::Instant::now(),
            notifications,
            batch,
            pool_name: self.pool_name.clone(),
        })
    }

    async fn check(&self, mut conn: PgClient) -> Result<PgClient, PgError> {
        let now = std::time::Instant::now();
        let recently_used = now.duration_since(conn.checked_out_at) < RECHECK_IDLE_AFTER;
        conn.checked_out_at = now;
        // Compared under the lock, so the usual case (already in the zone) allocates nothing.
        let retarget: Option<Option<String>> = self
            .session_timezone
            .read()
            .ok()
            .and_then(|tz| (conn.timezone != *tz).then(|| tz.clone()));
        if let Some(tz) = retarget {
            // Opened before the time zone was set or unset: bring the session in line (this
            // round trip doubles as the health check).
            let sql = match &tz {
                Some(tz) => set_time_zone_sql(tz),
                None => "RESET TIME ZONE".to_owned(),
            };
            conn.client
                .batch_execute(&sql)
                .await
                .map_err(|e| PgError::from_pg(e, &self.redacted_url))?;
            conn.timezone = tz;
            conn.refresh_session_zone()
                .await
                .map_err(|e| PgError::from_pg(e, &self.redacted_url))?;
            return Ok(conn);
        }
        if conn.client.is_closed() {
            return Err(PgError::Connection(format!(
                "Postgres at {}: the connection was closed",
                self.redacted_url
            )));
        }
        if recently_used {
            // In use a moment ago and still open: a round trip per checkout would double
            // the latency of every autocommit statement.
            return Ok(conn);
        }
        conn.client
            .simple_query("")
            .await
            .map_err(|e| PgError::from_pg(e, &self.redacted_url))?;
        Ok(conn)
    }

    /// Called when a connection is given back: false closes it.
    fn validate(&self, conn: &mut PgClient) -> bool {
        self.keep_idle && !conn.client.is_closed()
    }
}

/// A column of a result.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Column {
    pub name: String,
    pub type_oid: u32,
    pub type_name: String,
    /// The type modifier (`atttypmod`: length of `varchar(n)` + 4, precision and scale of
    /// `numeric(p, s)`, ...); -1 when there is none.
    pub type_modifier: i32,
    /// The table the column comes from, when it is a plain table column.
    pub table_oid: Option<u32>,
    /// Its attribute number in that table.
    pub column_id: Option<i16>,
    /// The server's storage size of the type (`typlen`, libpq's `PQfsize`): -1 for
    /// variable-length types.
    pub type_size: i16,
}

/// `pg_type.typlen` of `ty`: built-in types from a table, enums 4, domains their base type's;
/// -1 (variable length) otherwise.
pub fn type_size(ty: &tokio_postgres::types::Type) -> i16 {
    use tokio_postgres::types::Kind;
    match ty.kind() {
        Kind::Enum(_) => return 4,
        Kind::Domain(base) => return type_size(base),
        _ => {}
    }
    match ty.oid() {
        16 | 18 => 1,
        21 => 2,
        23 | 24 | 26 | 28 | 29 | 700 | 1082 | 2202..=2206 | 2278 | 3734 | 3769 | 4089 | 4096 => 4,
        27 | 829 => 6,
        20 | 701 | 790 | 774 | 1083 | 1114 | 1184 | 3220 | 5069 => 8,
        1266 => 12,
        600 | 1186 | 2950 => 16,
        628 | 718 => 24,
        601 | 603 => 32,
        19 => 64,
        705 | 2275 => -2,
        _ => -1,
    }
}

/// What a statement returned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResult {
    /// Empty for statements that return no rows (INSERT without RETURNING, DDL, ...).
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// Rows returned or affected; -1 when unknown (several statements at once).
    pub rows_affected: i64,
    /// The session `TimeZone` the statement ran in (timestamptz values are shown in it).
    pub session_zone: Option<std::sync::Arc<str>>,
    /// The session's `IntervalStyle` after the statement (the text typecasters get).
    pub interval_style: IntervalStyle,
}

impl PgClient {
    /// The underlying tokio-postgres client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// True when the server connection has ended.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(crate) fn err(&self, e: tokio_postgres::Error) -> PgError {
        PgError::from_pg(e, &self.url)
    }

    /// `NOTIFY` messages received since the last call, oldest first.
    pub fn take_notifications(&self) -> Vec<tokio_postgres::Notification> {
        crate::notify::take(&self.notifications)
    }

    /// The session's `TimeZone`, as the server reports it.
    pub fn session_zone(&self) -> Option<&str> {
        self.session_zone.as_deref()
    }

    /// The session's `IntervalStyle`, as the server reports it.
    pub fn interval_style(&self) -> IntervalStyle {
        self.batch.interval_style()
    }

    /// Ask the server for the session's `TimeZone` (after a statement may have changed it).
    async fn refresh_session_zone(&mut self) -> Result<(), tokio_postgres::Error> {
        let rows = self.client.simple_query("SHOW TimeZone").await?;
        for message in rows {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message
                && let Some(zone) = row.get(0)
            {
                self.session_zone = Some(std::sync::Arc::from(zone));
            }
        }
        Ok(())
    }

    /// A statement prepared for `sql` with parameters of types `oids` (0: inferred by the
    /// server), from the cache if it was prepared before.
    ///
    /// A parameter left to inference that the server cannot type ("could not determine
    /// data type of parameter $n", e.g. `%s IS NULL`) is prepared as `text` instead: what
    /// an unknown-typed literal becomes in the same place.
    async fn prepare_cached(
        &mut self,
        sql: &str,
        oids: &[u32],
    ) -> Result<Statement, tokio_postgres::Error> {
        let settings = self.batch.literal_settings();
        if settings != self.statements_settings {
            // TimeZone, DateStyle, IntervalStyle or standard_conforming_strings changed:
            // cached statements may hold literals read the old way, prepare afresh.
            self.statements.clear();
            self.statements_settings = settings;
        }
        if let Some(variants) = self.statements.get(sql)
            && let Some((_, stmt)) = variants.iter().find(|(o, _)| **o == *oids)
        {
            return Ok(stmt.clone());
        }
        let mut types: Vec<Type> = oids.iter().map(|o| param_type(*o)).collect();
        let stmt = loop {
            match self.prepare_guarded(sql, &types).await {
                Ok(stmt) => break stmt,
                Err(e) => match indeterminate_parameter(&e) {
                    Some(n) if n < types.len() && types[n].oid() == 0 => {
                        types[n] = Type::TEXT;
                    }
                    _ => return Err(e),
                },
            }
        };
        if crate::cursor::is_cursor_statement(sql) {
            // Cursor statements name a server cursor: a FETCH's columns are those of the
            // cursor declared under that name *now*, so a cached one could decode another
            // cursor's rows; DECLAREs carry unique names and would only crowd the cache.
            return Ok(stmt);
        }
        self.remember_statement(sql, oids, &stmt);
        Ok(stmt)
    }

    /// Cache `stmt` as `sql` prepared with parameter types `oids`.
    fn remember_statement(&mut self, sql: &str, oids: &[u32], stmt: &Statement) {
        if self.statements.len() >= STATEMENT_CACHE_SIZE {
            self.statements.clear();
        }
        let variants = self.statements.entry(sql.to_owned()).or_default();
        if !variants.iter().any(|(o, _)| **o == *oids) {
            variants.push((oids.into(), stmt.clone()));
        }
    }

    /// Prepare `sql`; inside a transaction, when a parameter is left to inference (which
    /// may fail and would abort the transaction), within a savepoint sent in the same
    /// round trip, so that the retry as text can follow.
    async fn prepare_guarded(
        &self,
        sql: &str,
        types: &[Type],
    ) -> Result<Statement, tokio_postgres::Error> {
        if !self.in_transaction || types.iter().all(|t| t.oid() != 0) {
            return self.client.prepare_typed(sql, types).await;
        }
        let (saved, prepared, released) = futures_util::join!(
            self.client.batch_execute("SAVEPOINT puff_prepare"),
            self.client.prepare_typed(sql, types),
            self.client.batch_execute("RELEASE SAVEPOINT puff_prepare"),
        );
        if saved.is_err() {
            // Not in a transaction after all (or it is already aborted): the prepare ran
            // on its own and tells what happened.
            return prepared;
        }
        match prepared {
            Ok(stmt) => {
                released?;
                Ok(stmt)
            }
            Err(e) => {
                self.client
                    .batch_execute(
                        "ROLLBACK TO SAVEPOINT puff_prepare; RELEASE SAVEPOINT puff_prepare",
                    )
                    .await?;
                Err(e)
            }
        }
    }

    /// Run one statement with `$1, $2, ...` parameters whose types the server infers (a
    /// prepared statement, cached per connection). Without parameters, text holding
    /// several statements runs as a batch.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<QueryResult, PgError> {
        self.query_typed(sql, params, &[]).await
    }

    /// [`PgClient::query`] with the parameters' type OIDs given (0: inferred; `oids`
    /// empty: all inferred), see [`Value::param_oid`].
    pub async fn query_typed(
        &mut self,
        sql: &str,
        params: &[Value],
        oids: &[u32],
    ) -> Result<QueryResult, PgError> {
        let mut span = crate::statement_span::statement_span(sql, &self.pool_name);
        let result = self.query_inner(sql, params, oids).await;
        crate::statement_span::note_result(&mut span, &result);
        if result.is_ok() {
            // `COMMIT` / `ROLLBACK [TO ...]` run as statements (Django's savepoints).
            self.follow_transaction_end(sql).await?;
        }
        if result.is_ok() && may_set_time_zone(sql) {
            self.refresh_session_zone().await.map_err(|e| self.err(e))?;
            self.zone_set_in_transaction = true;
            // Whoever checks the session out next must not inherit this zone: the pool's
            // check compares `timezone` with the pool's and sets the pool's zone again.
            self.timezone = self.session_zone.as_deref().map(str::to_owned);
        }
        result.map(|mut r| {
            r.session_zone = self.session_zone.clone();
            r.interval_style = self.interval_style();
            r
        })
    }

    async fn query_inner(
        &mut self,
        sql: &str,
        params: &[Value],
        oids: &[u32],
    ) -> Result<QueryResult, PgError> {
        if params.is_empty() && has_several_statements(sql) {
            self.client
                .batch_execute(sql)
                .await
                .map_err(|e| self.err(e))?;
            return Ok(QueryResult {
                rows_affected: -1,
                ..QueryResult::default()
            });
        }
        let oids = if oids.is_empty() {
            &vec![0; params.len()][..]
        } else {
            oids
        };
        let stmt = self
            .prepare_cached(sql, oids)
            .await
            .map_err(|e| self.err(e))?;
        if stmt.params().len() != params.len() {
            return Err(PgError::Interface(format!(
                "the statement has {} parameters but {} values were given",
                stmt.params().len(),
                params.len()
            )));
        }
        let result = if params.is_empty()
            && !stmt.columns().is_empty()
            && stmt.columns().iter().all(|c| text::reads_text(c.type_()))
        {
            self.run_simple(&stmt, sql).await
        } else {
            self.run_prepared(&stmt, sql, params).await
        };
        if result.is_err() {
            // The cached plan may be stale (e.g. the table was re-created with other
            // columns): prepare afresh next time.
            self.statements.remove(sql);
        }
        result
    }

    async fn run_prepared(
        &mut self,
        stmt: &Statement,
        stmt_sql: &str,
        params: &[Value],
    ) -> Result<QueryResult, PgError> {
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        if stmt.columns().is_empty() {
            let n = self
                .client
                .execute(stmt, &refs)
                .await
                .map_err(|e| self.err(e))?;
            // tokio-postgres reports 0 for command tags without a count (DDL, SET, ...):
            // those are -1, "not determinable", as libpq's PQcmdTuples (psycopg2) has them.
            let rows_affected = if n == 0 && !reports_row_count(stmt_sql) {
                -1
            } else {
                i64::try_from(n).unwrap_or(i64::MAX)
            };
            return Ok(QueryResult {
                rows_affected,
                ..QueryResult::default()
            });
        }
        let rows = self
            .client
            .query(stmt, &refs)
            .await
            .map_err(|e| self.err(e))?;
        let columns = statement_columns(stmt);
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, column) in columns.iter().enumerate() {
                values.push(
                    row.try_get::<_, Value>(i).map_err(|e| {
                        PgError::Conversion(format!("column `{}`: {e}", column.name))
                    })?,
                );
            }
            out.push(values);
        }
        for (i, column) in columns.iter().enumerate() {
            if let Some(reg) = crate::value::reg_type_name(column.type_oid) {
                self.name_reg_values(reg, i, &mut out).await?;
            }
        }
        Ok(QueryResult {
            columns,
            rows_affected: out.len() as i64,
            rows: out,
            session_zone: None,
            interval_style: IntervalStyle::default(),
        })
    }

    /// Run `sql`, which has no parameters, as one simple Query, as psycopg2 sends every
    /// statement: no extended-protocol portal exists while it runs (so a query of
    /// `pg_cursors` does not list itself). `stmt`, prepared from the same text, gives the
    /// columns; their values are read from the text the server sends
    /// ([`text::decode_text`]).
    ///
    /// The statement ran by the time its columns are seen: if they are not those `stmt`
    /// was prepared with (the table changed since), the values are read by the types the
    /// server described (text for types not read here, as psycopg2 leaves unknown types)
    /// and the cached statement is dropped, rather than failing a statement that ran.
    async fn run_simple(&mut self, stmt: &Statement, sql: &str) -> Result<QueryResult, PgError> {
        self.batch.capture_row_descriptions();
        let messages = self.client.simple_query(sql).await;
        let described = self.batch.take_row_descriptions();
        let messages = messages.map_err(|e| self.err(e))?;
        let mut columns = statement_columns(stmt);
        let mut types: Vec<Option<Type>> = stmt
            .columns()
            .iter()
            .map(|c| Some(c.type_().clone()))
            .collect();
        if let Some(fields) = described.first()
            && !fields
                .iter()
                .map(|f| (f.name.as_str(), f.type_oid))
                .eq(columns.iter().map(|c| (c.name.as_str(), c.type_oid)))
        {
            self.statements.remove(sql);
            types = fields
                .iter()
                .map(|f| Type::from_oid(f.type_oid).filter(text::reads_text))
                .collect();
            columns = fields
                .iter()
                .map(|f| Column {
                    name: f.name.clone(),
                    type_oid: f.type_oid,
                    type_name: Type::from_oid(f.type_oid)
                        .map_or_else(|| "unknown".to_owned(), |t| t.name().to_owned()),
                    type_modifier: f.type_modifier,
                    table_oid: (f.table_oid != 0).then_some(f.table_oid),
                    column_id: (f.column_id != 0).then_some(f.column_id),
                    type_size: f.type_size,
                })
                .collect();
        }
        let mut out = Vec::new();
        for message in &messages {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            if row.len() != columns.len() {
                return Err(PgError::Interface(format!(
                    "the statement returned {} columns where {} were prepared",
                    row.len(),
                    columns.len()
                )));
            }
            let mut values = Vec::with_capacity(columns.len());
            for (i, (column, ty)) in columns.iter().zip(&types).enumerate() {
                let text = row.try_get(i).map_err(|e| self.err(e))?;
                values.push(match (text, ty) {
                    (None, _) => Value::Null,
                    (Some(text), None) => Value::Text(text.to_owned()),
                    (Some(text), Some(ty)) => text::decode_text(ty, text).map_err(|e| {
                        PgError::Conversion(format!("column `{}`: {e}", column.name))
                    })?,
                });
            }
            out.push(values);
        }
        Ok(QueryResult {
            columns,
            rows_affected: out.len() as i64,
            rows: out,
            session_zone: None,
            interval_style: IntervalStyle::default(),
        })
    }

    /// Column `i` of `rows` is of the OID alias type `reg` (`regclass`, `regtype`, ...),
    /// which comes as its OID in binary: its values become the names the type's text
    /// output gives (`bigint`, what psycopg2 reads), asked of the server in one query.
    async fn name_reg_values(
        &self,
        reg: &'static str,
        i: usize,
        rows: &mut [Vec<Value>],
    ) -> Result<(), PgError> {
        let oids: Vec<String> = rows
            .iter()
            .filter_map(|row| row[i].as_i64())
            .map(|oid| oid.to_string())
            .collect();
        if oids.is_empty() {
            return Ok(());
        }
        let list = format!("{{{}}}", oids.join(","));
        // `reg` is one of value::reg_type_name's constants, never input.
        let sql = format!(
            "SELECT x::{reg}::text FROM unnest($1::text::oid[]) WITH ORDINALITY AS t(x, n) \
             ORDER BY n"
        );
        let names = self
            .client
            .query(&sql, &[&list])
            .await
            .map_err(|e| self.err(e))?;
        let mut names = names.iter().map(|r| r.get::<_, String>(0));
        for row in rows.iter_mut() {
            if row[i].as_i64().is_some()
                && let Some(name) = names.next()
            {
                row[i] = Value::Text(name);
            }
        }
        Ok(())
    }

    /// Number of result columns of `sql` (prepared and cached).
    pub async fn prepare_columns(&mut self, sql: &str, oids: &[u32]) -> Result<usize, PgError> {
        let stmt = self
            .prepare_cached(sql, oids)
            .await
            .map_err(|e| self.err(e))?;
        Ok(stmt.columns().len())
    }

    /// For an `INSERT ... VALUES` run many times (`executemany`): retype `sets` for their
    /// columns where psycopg2's result is the same (see `insert_types`), and return the
    /// column type OIDs found, for [`PgClient::execute_batch`] to retype later sets alike.
    pub async fn retype_for_insert(
        &mut self,
        sql: &str,
        sets: &mut [ParamSet],
    ) -> Result<Vec<u32>, PgError> {
        let Some(first) = sets.first() else {
            return Ok(Vec::new());
        };
        let columns = self.insert_column_types(sql, first).await?;
        retype_sets(sets, &columns);
        Ok(columns)
    }

    /// For an `INSERT ... VALUES` whose parameters `set` has ints or floats as whole VALUES
    /// items, the type OID of each such item's column (0 elsewhere), from the statement
    /// prepared with those parameters left to the server; empty when nothing could be
    /// retyped.
    async fn insert_column_types(
        &mut self,
        sql: &str,
        set: &ParamSet,
    ) -> Result<Vec<u32>, PgError> {
        let (values, oids) = set;
        let candidates: Vec<usize> = insert_types::bare_value_params(sql)
            .into_iter()
            .filter(|&i| i < values.len() && insert_types::may_retype(&values[i], oids[i]))
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut open = oids.clone();
        for &i in &candidates {
            open[i] = 0;
        }
        let stmt = self
            .prepare_cached(sql, &open)
            .await
            .map_err(|e| self.err(e))?;
        let mut columns = vec![0; oids.len()];
        for &i in &candidates {
            if let Some(ty) = stmt.params().get(i) {
                columns[i] = ty.oid();
            }
        }
        // Where the server inferred exactly the types the candidates are retyped to, this
        // statement is the one the retyped sets need: remembered under their types, it
        // saves them a second Parse round trip.
        let mut retyped = oids.clone();
        retype_set(values, &mut retyped, &columns);
        if candidates.iter().all(|&i| retyped[i] == columns[i]) {
            self.remember_statement(sql, &retyped, &stmt);
        }
        Ok(columns)
    }

    /// Run one statement without results once per parameter set, in batches of one Parse
    /// (the first), a Bind and Execute per set and one Sync (`batch.rs`), as asyncpg's
    /// `executemany` sends them: `first`, then each chunk `rest` delivers, sent while the
    /// caller converts the next one (a Sync per chunk). The server stops at the first
    /// failing row; its error is returned. Returns the total rows affected.
    ///
    /// Only for a transaction: the failing row aborts it, so the batches after it run
    /// nothing, as psycopg2's one statement at a time leaves it. Outside one, each batch
    /// would be an implicit transaction of its own. Sets typed unlike `first[0]`, and all
    /// after them, run one at a time after the batches; a set whose values cannot be
    /// encoded stops the run after the sets before it. `columns`, from
    /// [`PgClient::retype_for_insert`] (which retyped `first`), retypes the later sets.
    pub async fn execute_batch(
        &mut self,
        sql: &str,
        first: Vec<ParamSet>,
        mut rest: Option<&mut LaterSets>,
        columns: &[u32],
    ) -> Result<i64, PgError> {
        let Some(oids) = first.first().map(|(_, oids)| oids.clone()) else {
            return Ok(0);
        };
        let stmt = self
            .prepare_cached(sql, &oids)
            .await
            .map_err(|e| self.err(e))?;
        let width = stmt.params().len();
        self.batch.reset_report();
        // Sets left to run one at a time (from the first whose types differ).
        let mut one_by_one: Vec<ParamSet> = Vec::new();
        let mut encode_error = None;
        let mut syncs = Vec::new();
        let mut chunk = Some(first);
        let mut first_chunk = true; // retyped by the caller
        while let Some(mut sets) = chunk.take() {
            if !std::mem::take(&mut first_chunk) {
                retype_sets(&mut sets, columns);
            }
            if !one_by_one.is_empty() {
                one_by_one.append(&mut sets);
            } else {
                let alike = sets
                    .iter()
                    .position(|(v, o)| *o != oids || v.len() != width)
                    .unwrap_or(sets.len());
                let (messages, encoded) =
                    encode_batch(syncs.is_empty().then_some(sql), &stmt, &sets[..alike]);
                let sent = match encoded {
                    Ok(()) => alike,
                    Err((at, e)) => {
                        encode_error = Some(e);
                        at
                    }
                };
                if sent > 0 {
                    self.batch.arm(messages);
                    let mut sync: PendingSync<'_> = Box::pin(self.client.check_connection());
                    // Polled once now, so that its Sync goes out behind this batch (its
                    // answer is awaited below, after the next chunks went out).
                    if let std::task::Poll::Ready(out) = futures_util::poll!(sync.as_mut()) {
                        self.batch.disarm(); // not sent: the connection is closed
                        sync = Box::pin(std::future::ready(out));
                    }
                    syncs.push(sync);
                } else if syncs.is_empty() {
                    // Nothing was sent: the statement was not parsed either.
                    return Err(encode_error.unwrap_or_else(|| {
                        PgError::Interface("executemany: nothing to run".into())
                    }));
                }
                if encode_error.is_some() {
                    break;
                }
                one_by_one.extend(sets.drain(alike..));
            }
            if self.batch.report().failed {
                break; // the transaction is aborted: nothing after it would run
            }
            if let Some(rest) = rest.as_mut() {
                chunk = rest.recv().await;
            }
        }
        let mut failure = None;
        for sync in syncs {
            // The first error is the failing row's; the batches after it fail as aborted.
            if let Err(e) = sync.await
                && failure.is_none()
            {
                failure = Some(e);
            }
        }
        if let Some(e) = failure {
            if self.client.is_closed() {
                self.batch.disarm();
            }
            self.statements.remove(sql);
            return Err(self.err(e));
        }
        if let Some(e) = encode_error {
            return Err(e);
        }
        let mut rows = i64::try_from(self.batch.report().rows).unwrap_or(i64::MAX);
        for (params, oids) in &one_by_one {
            let result = self.query_typed(sql, params, oids).await?;
            rows += result.rows_affected.max(0);
        }
        Ok(rows)
    }

    /// Run SQL without parameters or results (`BEGIN`, `COMMIT`, DDL, several statements).
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), PgError> {
        let mut span = crate::statement_span::statement_span(sql, &self.pool_name);
        let ran = self.client.batch_execute(sql).await;
        crate::statement_span::note_result(&mut span, &ran);
        drop(span);
        ran.map_err(|e| self.err(e))?;
        let head = sql.trim_start().as_bytes();
        let starts = |w: &[u8]| {
            head.get(..w.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(w))
        };
        if starts(b"BEGIN") || starts(b"START") {
            self.in_transaction = true;
        } else if transaction_end(sql) == Some(true) {
            self.in_transaction = false;
        }
        self.follow_transaction_end(sql).await
    }

    /// A `SET TIME ZONE` in the transaction is undone by its rollback, or by a rollback to
    /// a savepoint set before it (and kept by its commit): ask again after those.
    async fn follow_transaction_end(&mut self, sql: &str) -> Result<(), PgError> {
        if self.zone_set_in_transaction
            && let Some(ends) = transaction_end(sql)
        {
            if ends {
                self.zone_set_in_transaction = false;
            }
            self.refresh_session_zone().await.map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

/// One execution's parameter values with their type OIDs ([`Value::param_oid`]).
/// Retype the parameters of `sets` for the columns `insert_column_types` found.
fn retype_sets(sets: &mut [ParamSet], columns: &[u32]) {
    if columns.is_empty() {
        return;
    }
    for (values, oids) in sets {
        retype_set(values, oids, columns);
    }
}

/// [`retype_sets`] of one parameter set.
fn retype_set(values: &[Value], oids: &mut [u32], columns: &[u32]) {
    for ((value, oid), column) in values.iter().zip(oids.iter_mut()).zip(columns) {
        if let Some(retyped) = insert_types::retypes(value, *oid, *column) {
            *oid = retyped;
        }
    }
}

/// The result columns of a prepared statement, as `description` shows them.
fn statement_columns(stmt: &Statement) -> Vec<Column> {
    stmt.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            type_oid: c.type_().oid(),
            type_name: c.type_().name().to_owned(),
            type_modifier: c.type_modifier(),
            table_oid: c.table_oid(),
            column_id: c.column_id(),
            type_size: type_size(c.type_()),
        })
        .collect()
}

pub(crate) type ParamSet = (Vec<Value>, Vec<u32>);

/// Parameter sets of an `executemany` converted after the first chunk, delivered while
/// the first ones are already sent.
pub(crate) type LaterSets = tokio::sync::mpsc::Receiver<Vec<ParamSet>>;

/// The answer to one batch's Sync, awaited after the later batches went out.
type PendingSync<'a> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'a>>;

/// Parse (unnamed) of `parse` with `stmt`'s parameter types (None: the unnamed statement
/// a batch before parsed), then Bind and Execute for each parameter set, without a Sync. Stops at the first set whose values cannot be encoded:
/// `Err((its index, the error))` with the messages of the sets before it.
fn encode_batch(
    parse: Option<&str>,
    stmt: &Statement,
    param_sets: &[ParamSet],
) -> (BytesMut, Result<(), (usize, PgError)>) {
    use postgres_protocol::message::frontend;
    let mut buf = BytesMut::with_capacity(64 + param_sets.len() * 96);
    let types = stmt.params();
    if let Some(sql) = parse
        && let Err(e) = frontend::parse("", sql, types.iter().map(Type::oid), &mut buf)
    {
        return (buf, Err((0, PgError::Interface(e.to_string()))));
    }
    for (at, (params, _)) in param_sets.iter().enumerate() {
        let before = buf.len();
        let formats = params
            .iter()
            .zip(types)
            .map(|(p, ty)| p.encode_format(ty) as i16);
        let bound = frontend::bind(
            "",
            "",
            formats,
            params.iter().zip(types),
            |(p, ty), buf| match p.to_sql_checked(ty, buf)? {
                tokio_postgres::types::IsNull::No => Ok(postgres_protocol::IsNull::No),
                tokio_postgres::types::IsNull::Yes => Ok(postgres_protocol::IsNull::Yes),
            },
            Some(1),
            &mut buf,
        );
        let bound = match bound {
            Ok(()) => frontend::execute("", 0, &mut buf).map_err(|e| e.to_string()),
            Err(frontend::BindError::Conversion(e)) => {
                Err(format!("error serializing a value: {e}"))
            }
            Err(frontend::BindError::Serialization(e)) => Err(e.to_string()),
        };
        if let Err(e) = bound {
            buf.truncate(before);
            return (buf, Err((at, PgError::Conversion(e))));
        }
    }
    (buf, Ok(()))
}

/// `executemany` of `sql` may run as one batch ([`PgClient::execute_batch`]): a single
/// statement that neither ends the transaction, nor may set the time zone, nor names a
/// server cursor (those need the bookkeeping of one statement at a time).
pub(crate) fn batches(sql: &str) -> bool {
    !has_several_statements(sql)
        && transaction_end(sql).is_none()
        && !may_set_time_zone(sql)
        && !crate::cursor::is_cursor_statement(sql)
}

/// Some(true) when `sql` ends the transaction (`COMMIT`, `END`, `ROLLBACK`, `ABORT`),
/// Some(false) for `ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] name` (the transaction goes
/// on, but what it did since the savepoint is undone), None otherwise.
pub(crate) fn transaction_end(sql: &str) -> Option<bool> {
    let mut words = sql.split_ascii_whitespace();
    let first = words.next()?;
    let is = |w: &str, k: &str| w.trim_end_matches(';').eq_ignore_ascii_case(k);
    if is(first, "COMMIT") || is(first, "END") || is(first, "ABORT") {
        return Some(true);
    }
    if !is(first, "ROLLBACK") {
        return None;
    }
    let mut next = words.next();
    if next.is_some_and(|w| is(w, "WORK") || is(w, "TRANSACTION")) {
        next = words.next();
    }
    Some(!next.is_some_and(|w| is(w, "TO")))
}

/// The type to prepare a parameter of type `oid` with: only its OID reaches the server
/// (tokio-postgres learns the rest from the server's answer), so extension types such as
/// hstore need no lookup here.
fn param_type(oid: u32) -> Type {
    Type::from_oid(oid)
        .unwrap_or_else(|| Type::new(String::new(), oid, Kind::Simple, String::new()))
}

/// `n` (0-based) when `e` is the server's "could not determine data type of parameter
/// $n+1".
fn indeterminate_parameter(e: &tokio_postgres::Error) -> Option<usize> {
    let db = e.as_db_error()?;
    if *db.code() != tokio_postgres::error::SqlState::INDETERMINATE_DATATYPE {
        return None;
    }
    let at = db.message().rfind('$')?;
    let n: usize = db.message()[at + 1..].trim().parse().ok()?;
    n.checked_sub(1)
}

/// Whether `sql` may change the session's `TimeZone` (`SET TIME ZONE`, `SET timezone`,
/// `RESET ALL`, `set_config('TimeZone', ...)`): the zone is asked for again afterwards.
pub(crate) fn may_set_time_zone(sql: &str) -> bool {
    let contains = |word: &[u8]| {
        sql.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    let head = sql.trim_start().as_bytes();
    let starts = |word: &[u8]| {
        head.get(..word.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(word))
    };
    ((starts(b"SET") || starts(b"RESET")) && contains(b"zone"))
        || (starts(b"RESET") && contains(b" all"))
        // (Exact-case searches: the usual spellings, without a scan per byte.)
        || sql.contains("set_config")
        || sql.contains("SET_CONFIG")
}

/// Whether `sql` holds more than one statement: a `;` outside quotes, dollar quotes and
/// comments followed by more than whitespace, comments and `;`.
/// True when the command tag of `sql` carries a row count (`INSERT 0 5`, `UPDATE 3`,
/// `SELECT 2`, ...): its first keyword is one of the commands libpq's `PQcmdTuples` counts.
/// Others (`CREATE`, `SET`, `BEGIN`, `DO`, ...) have no count: DB-API's rowcount is -1.
pub fn reports_row_count(sql: &str) -> bool {
    const COUNTED: [&str; 11] = [
        "INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "WITH", "VALUES", "TABLE", "MOVE",
        "FETCH", "COPY",
    ];
    let word = crate::cursor::first_keyword(sql);
    // (`CREATE TABLE ... AS` reports `SELECT n` too; when n is 0 it reads as -1 here.)
    COUNTED.iter().any(|k| word.eq_ignore_ascii_case(k))
}

pub fn has_several_statements(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut seen_end = false;
    while i < b.len() {
        let c = b[i];
        if seen_end && !c.is_ascii_whitespace() && c != b';' && c != b'-' && c != b'/' {
            return true;
        }
        if let Some(after) = crate::sql_scan::skip_quoted(sql, i) {
            i = after;
            continue;
        }
        match c {
            b';' => {
                seen_end = true;
                i += 1;
            }
            b'-' | b'/' if seen_end => return true,
            _ => i += 1,
        }
    }
    false
}

/// A named pool of Postgres connections.
pub struct PostgresPool {
    config: PostgresConfig,
    redacted_url: String,
    database: String,
    pg_config: tokio_postgres::Config,
    session_timezone: SessionTimezone,
    pool: mobc::Pool<PgManager>,
}

type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PgError>> + Send + 'a>>;

impl PostgresPool {
    /// Build the pool; it connects lazily, on first use. Needs a Tokio runtime context.
    pub fn new(config: PostgresConfig) -> Result<PostgresPool, PgError> {
        config
            .validate()
            .map_err(|e| PgError::Config(e.to_string()))?;
        let redacted_url = redact_url(&config.url);
        let pg_config: tokio_postgres::Config = config.url.parse().map_err(|e| {
            PgError::Config(format!("{redacted_url} is not a valid Postgres URL: {e}"))
        })?;
        // `min_idle = 0`: keep no idle connection (mobc itself would read 0 as unlimited).
        let max_idle = match config.min_idle {
            Some(0) => None,
            other => Some(other.unwrap_or(config.pool_size)),
        };
        let session_timezone = SessionTimezone::default();
        Ok(Self::build(
            config,
            pg_config,
            redacted_url,
            max_idle,
            session_timezone,
        ))
    }

    fn build(
        config: PostgresConfig,
        pg_config: tokio_postgres::Config,
        redacted_url: String,
        max_idle: Option<u32>,
        session_timezone: SessionTimezone,
    ) -> PostgresPool {
        // Postgres connects to the database named like the user when the URL names none.
        let database = pg_config
            .get_dbname()
            .or(pg_config.get_user())
            .unwrap_or("postgres")
            .to_owned();
        let manager = PgManager {
            config: pg_config.clone(),
            redacted_url: redacted_url.clone(),
            statement_timeout_ms: config.statement_timeout_ms,
            session_timezone: session_timezone.clone(),
            keep_idle: max_idle.is_some(),
            pool_name: config.name.as_str().into(),
        };
        let pool = mobc::Pool::builder()
            .max_open(u64::from(config.pool_size))
            // mobc reads 0 as "no limit"; a pool that keeps none closes them on return.
            .max_idle(u64::from(max_idle.unwrap_or(1).max(1)))
            .get_timeout(None)
            .test_on_check_out(true)
            .build(manager);
        PostgresPool {
            config,
            redacted_url,
            database,
            pg_config,
            session_timezone,
            pool,
        }
    }

    /// A pool on another database of the same server, with the same user and size, and
    /// sessions in the same time zone (shared: it follows later changes), that keeps no
    /// idle connections (so the database can be dropped
    /// once its users are done): Django's test database and the `postgres` maintenance
    /// database are reached this way. Needs a Tokio runtime context.
    pub fn on_database(&self, database: &str) -> PostgresPool {
        let mut pg_config = self.pg_config.clone();
        pg_config.dbname(database);
        let redacted_url = format!("{} (database `{database}`)", self.redacted_url);
        let config = PostgresConfig {
            name: format!("{}@{database}", self.config.name),
            ..self.config.clone()
        };
        Self::build(
            config,
            pg_config,
            redacted_url,
            None,
            self.session_timezone.clone(),
        )
    }

    /// The database this pool's connections open.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Run every session of this pool (and of the pools derived from it) in time zone `tz`
    /// (None: the server's default, `RESET TIME ZONE`). Connections already open switch when
    /// they are next checked out.
    pub fn set_session_timezone(&self, tz: Option<String>) {
        if let Ok(mut current) = self.session_timezone.write() {
            *current = tz;
        }
    }

    /// The time zone set by [`PostgresPool::set_session_timezone`].
    pub fn session_timezone(&self) -> Option<String> {
        read_timezone(&self.session_timezone)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    /// The URL with its password hidden.
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// Check a connection out, waiting up to the acquire timeout.
    pub async fn get(&self) -> Result<PooledClient, PgError> {
        // Tokio's timer rather than mobc's `get_timeout`, whose timer thread costs ~10% of
        // the CPU of a busy pool.
        let got = puff_greenlet::metrics::pool::checkout(
            "postgres",
            &self.config.name,
            tokio::time::timeout(self.config.acquire_timeout(), self.pool.get()),
        )
        .await
        .unwrap_or(Err(mobc::Error::Timeout));
        match got {
            Ok(conn) => Ok(conn),
            Err(mobc::Error::Inner(e)) => Err(e),
            Err(mobc::Error::Timeout) => {
                // mobc also reports a connect attempt that hangs as a timeout.
                let status = self.status().await;
                if status.in_use < status.max_open {
                    return Err(PgError::Connection(format!(
                        "Postgres at {} did not accept a connection within {} ms (pool `{}`)",
                        self.redacted_url,
                        self.config.acquire_timeout().as_millis(),
                        self.config.name
                    )));
                }
                Err(PgError::AcquireTimeout {
                    pool: self.config.name.clone(),
                    pool_size: self.config.pool_size,
                    timeout_ms: self.config.acquire_timeout().as_millis() as u64,
                })
            }
            Err(mobc::Error::BadConn) => Err(PgError::Connection(format!(
                "Postgres at {}: bad connection",
                self.redacted_url
            ))),
            Err(mobc::Error::PoolClosed) => Err(PgError::Interface(format!(
                "Postgres pool `{}` is closed",
                self.config.name
            ))),
        }
    }

    /// Run one statement on a pooled connection and return its rows.
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<QueryResult, PgError> {
        let mut conn = self.get().await?;
        conn.query(sql, params).await
    }

    /// Run one statement and return the number of rows affected.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<i64, PgError> {
        Ok(self.query(sql, params).await?.rows_affected)
    }

    /// Run `f` inside `BEGIN` ... `COMMIT` on one connection; an error rolls back.
    pub async fn transaction<T, F>(&self, f: F) -> Result<T, PgError>
    where
        F: for<'c> FnOnce(&'c mut PgClient) -> TxFuture<'c, T>,
    {
        let mut conn = self.get().await?;
        conn.batch_execute("BEGIN").await?;
        match f(&mut conn).await {
            Ok(v) => {
                conn.batch_execute("COMMIT").await?;
                Ok(v)
            }
            Err(e) => {
                if conn.batch_execute("ROLLBACK").await.is_err() {
                    tracing::debug!("rollback failed on pool `{}`", self.config.name);
                }
                Err(e)
            }
        }
    }

    /// Current pool usage.
    pub async fn status(&self) -> PoolStatus {
        let s = self.pool.state().await;
        PoolStatus {
            max_open: s.max_open,
            connections: s.connections,
            in_use: s.in_use,
            idle: s.idle,
        }
    }

    /// Try one connection in the background and warn (with the redacted URL) if the server
    /// cannot be reached; the pool keeps working once the server is up.
    pub fn check_in_background(self: &std::sync::Arc<Self>, tokio: &tokio::runtime::Handle) {
        let pool = self.clone();
        tokio.spawn(async move {
            match tokio::time::timeout(Duration::from_secs(10), pool.get()).await {
                Ok(Ok(_conn)) => tracing::debug!(
                    "Postgres pool `{}` connected to {}",
                    pool.config.name,
                    pool.redacted_url
                ),
                Ok(Err(e)) => tracing::warn!(
                    "Postgres pool `{}` cannot reach {} yet ({e}); queries will fail with \
                     OperationalError until it is up",
                    pool.config.name,
                    pool.redacted_url
                ),
                Err(_) => tracing::warn!(
                    "Postgres pool `{}`: no answer from {} within 10 s",
                    pool.config.name,
                    pool.redacted_url
                ),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::has_several_statements as several;
    use super::{may_set_time_zone, reports_row_count, transaction_end};

    #[test]
    fn statements_that_end_the_transaction() {
        for sql in [
            "COMMIT",
            "rollback;",
            "END",
            "ABORT",
            "ROLLBACK AND CHAIN",
            "  commit",
        ] {
            assert_eq!(transaction_end(sql), Some(true), "{sql}");
        }
        for sql in [
            "ROLLBACK TO SAVEPOINT s1",
            "rollback work to s1",
            "ROLLBACK TRANSACTION TO x",
        ] {
            assert_eq!(transaction_end(sql), Some(false), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "RELEASE SAVEPOINT s1",
            "SAVEPOINT s1",
            "BEGIN",
            "endless",
        ] {
            assert_eq!(transaction_end(sql), None, "{sql}");
        }
    }

    #[test]
    fn statements_that_may_set_the_zone() {
        for sql in [
            "SET TIME ZONE 'UTC'",
            "  set timezone = 'Europe/Paris'",
            "SET LOCAL TimeZone TO DEFAULT",
            "RESET ALL",
            "reset timezone",
            "SELECT set_config('TimeZone', $1, false)",
        ] {
            assert!(may_set_time_zone(sql), "{sql}");
        }
        for sql in [
            "SET CONSTRAINTS ALL IMMEDIATE",
            "SET search_path TO public",
            "SELECT * FROM zones",
            "INSERT INTO t VALUES ('time zone')",
        ] {
            assert!(!may_set_time_zone(sql), "{sql}");
        }
    }

    #[test]
    fn commands_with_a_row_count() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "  update t SET a = 1",
            "-- comment\nDELETE FROM t",
            "/* c */ (SELECT 1)",
            "WITH x AS (DELETE FROM t RETURNING 1) SELECT 1",
            "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
            "COPY t FROM STDIN",
        ] {
            assert!(reports_row_count(sql), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (a int)",
            "SET search_path TO public",
            "DO $$ BEGIN END $$",
            "BEGIN",
            "-- INSERT\nDROP TABLE t",
            "INSERTX",
            "",
        ] {
            assert!(!reports_row_count(sql), "{sql}");
        }
    }

    #[test]
    fn statement_splitting() {
        assert!(!several("SELECT 1"));
        assert!(!several("SELECT 1;"));
        assert!(!several("SELECT 1; -- done\n  "));
        assert!(!several("SELECT ';x'"));
        assert!(!several("SELECT $$a;b$$, $tag$;$tag$"));
        assert!(!several("SELECT E'\\';x'"));
        assert!(!several("SELECT \"a;b\" FROM t /* ; */"));
        assert!(several("CREATE TABLE t (a int); INSERT INTO t VALUES (1)"));
        assert!(several("SELECT 1;SELECT 2;"));
        assert!(several("SELECT 1; /* c */ SELECT 2"));
    }
}
