//! Batches with one Sync for `executemany`: [`BatchSocket`] sits between tokio-postgres and
//! the server's socket and lets a [`PgClient`](crate::pool::PgClient) send many Bind/Execute
//! pairs followed by a single Sync, as asyncpg's `executemany` does.
//!
//! Why: tokio-postgres ends every request with its own Sync, and the server answers each
//! Sync with ReadyForQuery and a flush (a send() per row); with 10,000 rows that doubles the
//! server's work. Its public API has no request without a Sync, so a batch travels
//! alongside one: [`BatchHandle::arm`] queues the encoded Parse + (Bind, Execute) x n for
//! the socket, the client then sends a bare Sync (`Client::check_connection`), and the
//! socket writes the batch just before that Sync. Several batches may be queued, each
//! taken by the next Sync, so that a long `executemany` goes out in chunks while the
//! server already runs the first. While a batch's answers come in, the socket keeps
//! ParseComplete, BindComplete, CommandComplete and EmptyQueryResponse from tokio-postgres
//! (counting the rows the CommandComplete tags report) and passes the rest through: the
//! Sync's request sees ReadyForQuery, or the first ErrorResponse and then ReadyForQuery,
//! exactly as for a failed statement. The server skips what follows a failed Execute
//! until the Sync, so nothing after a failing row runs (and in a transaction the batches
//! after it fail as aborted).
//!
//! The reader also notes the session's `IntervalStyle` from the ParameterStatus messages
//! the server sends at startup and whenever the setting changes: typecasters registered
//! for `interval` are given the text the server would print (`value::interval_text`).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::value::interval_text::IntervalStyle;

/// The Sync message tokio-postgres's `check_connection` sends.
const SYNC: &[u8] = b"S\0\0\0\x04";

/// What the server answered to the last batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BatchReport {
    /// Executions that completed (before the failing one, if any).
    pub completed: usize,
    /// Rows the completed executions reported (INSERT/UPDATE/DELETE/... tags).
    pub rows: u64,
    /// An ErrorResponse came before ReadyForQuery.
    pub failed: bool,
}

/// The client's side of a [`BatchSocket`]: queues batches and reads the report.
#[derive(Default)]
pub(crate) struct BatchHandle {
    /// Batches queued, each for the next Sync the client writes (kept next to the queue
    /// so that every other write skips the lock).
    queued: AtomicUsize,
    pending: Mutex<VecDeque<BytesMut>>,
    report: Mutex<BatchReport>,
    /// Set while a simple query runs: the reader keeps the columns of each RowDescription.
    capturing: AtomicBool,
    row_descriptions: Mutex<Vec<Vec<DescribedField>>>,
    /// The session's `IntervalStyle` as the server last reported it (`style as u8`).
    interval_style: AtomicU8,
    /// Reports of the settings that decide how a statement's literals are read (see
    /// [`BatchHandle::literal_settings`]).
    literal_settings: AtomicU64,
}

impl BatchHandle {
    /// Send `messages` (Parse/Bind/Execute, no Sync) just before the next Sync the client
    /// writes that no earlier batch took. The caller then sends exactly one bare Sync per
    /// batch, in the same order.
    pub(crate) fn arm(&self, messages: BytesMut) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(messages);
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// Forget the batches never written (their Syncs failed to go out).
    pub(crate) fn disarm(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.clear();
        self.queued.store(0, Ordering::Release);
    }

    /// Start counting afresh (before the first batch of an `executemany`).
    pub(crate) fn reset_report(&self) {
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) = BatchReport::default();
    }

    /// What the server answered to the batches since [`BatchHandle::reset_report`], read
    /// after their Syncs were answered (or one failed).
    pub(crate) fn report(&self) -> BatchReport {
        *self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep the columns (name, type OID) of the RowDescriptions the server sends from now
    /// on, until [`BatchHandle::take_row_descriptions`]: tokio-postgres's simple query
    /// gives the names only, and the values' types are needed to read their text.
    pub(crate) fn capture_row_descriptions(&self) {
        self.row_descriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.capturing.store(true, Ordering::Release);
    }

    /// The RowDescriptions kept since [`BatchHandle::capture_row_descriptions`]; stops
    /// keeping them.
    pub(crate) fn take_row_descriptions(&self) -> Vec<Vec<DescribedField>> {
        self.capturing.store(false, Ordering::Release);
        std::mem::take(
            &mut *self
                .row_descriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    fn capturing(&self) -> bool {
        self.capturing.load(Ordering::Acquire)
    }

    fn keep_row_description(&self, body: &[u8]) {
        if let Some(columns) = parse_row_description(body) {
            self.row_descriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(columns);
        }
    }

    /// The session's `IntervalStyle`, as of the last message read.
    pub(crate) fn interval_style(&self) -> IntervalStyle {
        match self.interval_style.load(Ordering::Acquire) {
            x if x == IntervalStyle::PostgresVerbose as u8 => IntervalStyle::PostgresVerbose,
            x if x == IntervalStyle::SqlStandard as u8 => IntervalStyle::SqlStandard,
            x if x == IntervalStyle::Iso8601 as u8 => IntervalStyle::Iso8601,
            _ => IntervalStyle::Postgres,
        }
    }

    /// How many times the server reported (at startup, then on every change) one of the
    /// settings under which it reads a statement's literals when preparing it: a literal
    /// `'2024-01-01 00:00'::timestamptz` becomes an instant in the `TimeZone` of that
    /// moment, and a prepared statement keeps that constant. A statement prepared before
    /// the count last moved may hold constants read under old settings.
    pub(crate) fn literal_settings(&self) -> u64 {
        self.literal_settings.load(Ordering::Acquire)
    }

    /// A ParameterStatus body: `name\0value\0`.
    fn note_parameter(&self, body: &[u8]) {
        let mut parts = body.split(|b| *b == 0);
        let name = parts.next();
        if matches!(
            name,
            Some(b"TimeZone" | b"DateStyle" | b"IntervalStyle" | b"standard_conforming_strings")
        ) {
            self.literal_settings.fetch_add(1, Ordering::AcqRel);
        }
        if name != Some(b"IntervalStyle") {
            return;
        }
        if let Some(style) = parts.next().and_then(IntervalStyle::from_setting) {
            self.interval_style.store(style as u8, Ordering::Release);
        }
    }

    fn take(&self) -> Option<BytesMut> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let batch = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        if batch.is_some() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        batch
    }

    /// Add what one batch's answers reported so far.
    fn add(&self, part: BatchReport) {
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        report.completed += part.completed;
        report.rows += part.rows;
        report.failed |= part.failed;
    }
}

/// Where the reader is in the server's message stream (messages can straddle reads).
#[derive(Default)]
struct ReadFraming {
    /// Header bytes seen of the current message (type byte + 4 length bytes).
    header: [u8; 5],
    header_len: usize,
    /// Body bytes of the current message still to come.
    body_left: usize,
    /// The current message is hidden from tokio-postgres.
    hiding: bool,
    /// The current message is a hidden CommandComplete: its tag is collected.
    tag: Option<Vec<u8>>,
    /// The current message is a RowDescription being captured: its body is collected.
    row_description: Option<Vec<u8>>,
    /// The current message is a ParameterStatus: its body is collected.
    parameter_status: Option<Vec<u8>>,
    /// Batches written whose ReadyForQuery has not come yet (a batch may follow one that
    /// failed before the failed one's ReadyForQuery is read).
    in_batch: usize,
    report: BatchReport,
}

impl ReadFraming {
    /// Filter `data` in place; returns how many bytes remain for tokio-postgres.
    fn filter(&mut self, data: &mut [u8], handle: &BatchHandle) -> usize {
        if self.in_batch == 0 && self.header_len == 0 && self.body_left == 0 && !handle.capturing()
        {
            return self.skim(data, handle);
        }
        self.follow(data, handle)
    }

    /// [`ReadFraming::filter`] message by message, header bytes one piece at a time.
    fn follow(&mut self, data: &mut [u8], handle: &BatchHandle) -> usize {
        let mut read = 0;
        let mut kept = 0;
        while read < data.len() {
            if self.header_len < 5 {
                let take = (5 - self.header_len).min(data.len() - read);
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&data[read..read + take]);
                if self.header_len == 0 {
                    self.start_message(data[read], handle);
                }
                if !self.hiding {
                    data.copy_within(read..read + take, kept);
                    kept += take;
                }
                self.header_len += take;
                read += take;
                if self.header_len == 5 {
                    let len = u32::from_be_bytes([
                        self.header[1],
                        self.header[2],
                        self.header[3],
                        self.header[4],
                    ]);
                    self.body_left = (len as usize).saturating_sub(4);
                    self.end_if_complete(handle);
                }
                continue;
            }
            let take = self.body_left.min(data.len() - read);
            if let Some(body) = &mut self.row_description {
                body.extend_from_slice(&data[read..read + take]);
            }
            if let Some(body) = &mut self.parameter_status {
                body.extend_from_slice(&data[read..read + take]);
            }
            if self.hiding {
                if let Some(tag) = &mut self.tag {
                    tag.extend_from_slice(&data[read..read + take]);
                }
            } else {
                data.copy_within(read..read + take, kept);
                kept += take;
            }
            self.body_left -= take;
            read += take;
            self.end_if_complete(handle);
        }
        kept
    }

    /// The usual case, no batch and at a message boundary: walk the headers only (a
    /// batch's answers cannot be in this read: `in_batch` is counted before it is sent).
    fn skim(&mut self, data: &mut [u8], handle: &BatchHandle) -> usize {
        let mut at = 0;
        while data.len() - at >= 5 {
            let len = u32::from_be_bytes([data[at + 1], data[at + 2], data[at + 3], data[at + 4]]);
            let end = at + 1 + len as usize;
            if end > data.len() {
                break;
            }
            if data[at] == b'S' {
                handle.note_parameter(&data[at + 5..end]);
            }
            at = end;
        }
        if at == data.len() {
            return at;
        }
        // A message continues in the next read: follow it byte by byte from here.
        let rest = self.follow(&mut data[at..], handle);
        at + rest
    }

    fn start_message(&mut self, kind: u8, handle: &BatchHandle) {
        self.hiding = false;
        self.tag = None;
        self.row_description = (kind == b'T' && handle.capturing()).then(Vec::new);
        self.parameter_status = (kind == b'S').then(Vec::new);
        if self.in_batch == 0 {
            return;
        }
        match kind {
            // ParseComplete, BindComplete, EmptyQueryResponse: the batch's own.
            b'1' | b'2' => self.hiding = true,
            b'I' => {
                self.hiding = true;
                self.report.completed += 1;
            }
            b'C' => {
                self.hiding = true;
                self.tag = Some(Vec::new());
            }
            b'E' => {
                // tokio-postgres returns the error as soon as it has this message, before
                // the ReadyForQuery: the report is final here (nothing runs after it).
                self.report.failed = true;
                self.publish(handle);
            }
            b'Z' => {
                self.publish(handle);
                self.in_batch -= 1;
            }
            _ => {}
        }
    }

    /// Hand what this batch reported since the last time to the client.
    fn publish(&mut self, handle: &BatchHandle) {
        handle.add(std::mem::take(&mut self.report));
    }

    fn end_if_complete(&mut self, handle: &BatchHandle) {
        if self.body_left > 0 || self.header_len < 5 {
            return;
        }
        if let Some(body) = self.row_description.take() {
            handle.keep_row_description(&body);
        }
        if let Some(body) = self.parameter_status.take() {
            handle.note_parameter(&body);
        }
        if let Some(tag) = self.tag.take() {
            self.report.completed += 1;
            self.report.rows += rows_of_tag(&tag);
        }
        self.header_len = 0;
        self.hiding = false;
    }
}

/// The row count at the end of a CommandComplete tag (`INSERT 0 5` -> 5; none -> 0).
fn rows_of_tag(tag: &[u8]) -> u64 {
    let tag = tag.strip_suffix(b"\0").unwrap_or(tag);
    let last = tag.rsplit(|b| *b == b' ').next().unwrap_or_default();
    std::str::from_utf8(last)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One field of a RowDescription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DescribedField {
    pub name: String,
    /// 0 when the column is not a table's.
    pub table_oid: u32,
    pub column_id: i16,
    pub type_oid: u32,
    pub type_size: i16,
    pub type_modifier: i32,
}

/// The fields of a RowDescription's body.
fn parse_row_description(body: &[u8]) -> Option<Vec<DescribedField>> {
    let mut rest = body;
    let count = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?);
    rest = &rest[2..];
    let mut fields = Vec::with_capacity(count.into());
    for _ in 0..count {
        let end = rest.iter().position(|b| *b == 0)?;
        // table OID (4), column number (2), type OID (4), size (2), modifier (4), format (2)
        let fixed = rest.get(end + 1..end + 19)?;
        let be4 = |at: usize| [fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]];
        fields.push(DescribedField {
            name: String::from_utf8_lossy(&rest[..end]).into_owned(),
            table_oid: u32::from_be_bytes(be4(0)),
            column_id: i16::from_be_bytes([fixed[4], fixed[5]]),
            type_oid: u32::from_be_bytes(be4(6)),
            type_size: i16::from_be_bytes([fixed[10], fixed[11]]),
            type_modifier: i32::from_be_bytes(be4(12)),
        });
        rest = &rest[end + 19..];
    }
    Some(fields)
}

/// The server connection's byte stream with batches spliced in (see the module docs).
pub struct BatchSocket<S> {
    inner: S,
    handle: Arc<BatchHandle>,
    /// Batch bytes (and the Sync after them) not yet written to `inner`.
    outgoing: BytesMut,
    framing: ReadFraming,
}

impl<S> BatchSocket<S> {
    pub(crate) fn new(inner: S) -> (BatchSocket<S>, Arc<BatchHandle>) {
        let handle = Arc::new(BatchHandle::default());
        let socket = BatchSocket {
            inner,
            handle: handle.clone(),
            outgoing: BytesMut::new(),
            framing: ReadFraming::default(),
        };
        (socket, handle)
    }
}

impl<S: AsyncWrite + Unpin> BatchSocket<S> {
    /// Write `outgoing` to the server until it is empty.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.outgoing.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.outgoing))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.outgoing.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BatchSocket<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let start = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let end = buf.filled().len();
            if end == start {
                return Poll::Ready(Ok(())); // end of stream
            }
            let kept = this
                .framing
                .filter(&mut buf.filled_mut()[start..end], &this.handle);
            buf.set_filled(start + kept);
            if kept > 0 {
                return Poll::Ready(Ok(()));
            }
            // All hidden: an empty read would mean end of stream, so read on.
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BatchSocket<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if buf.starts_with(SYNC)
            && let Some(batch) = this.handle.take()
        {
            // Every earlier request was answered before `arm`: the answers that follow
            // are the batch's.
            this.outgoing = batch;
            this.outgoing.extend_from_slice(SYNC);
            this.framing.in_batch += 1;
            // Accepted even if the socket is full now; `poll_flush` writes the rest.
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(SYNC.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Feed `stream` to a framing in the given chunk size; what tokio-postgres would see.
    fn feed(framing: &mut ReadFraming, stream: &[u8], chunk: usize) -> (Vec<u8>, BatchReport) {
        let handle = BatchHandle::default();
        let mut seen = Vec::new();
        for piece in stream.chunks(chunk) {
            let mut data = piece.to_vec();
            let kept = framing.filter(&mut data, &handle);
            seen.extend_from_slice(&data[..kept]);
        }
        (seen, handle.report())
    }

    fn awaiting_one_batch() -> ReadFraming {
        ReadFraming {
            in_batch: 1,
            ..ReadFraming::default()
        }
    }

    #[test]
    fn hides_the_batch_answers_and_counts_rows() {
        let mut stream = message(b'1', b"");
        for _ in 0..3 {
            stream.extend(message(b'2', b""));
            stream.extend(message(b'C', b"INSERT 0 1\0"));
        }
        stream.extend(message(b'N', b"notice"));
        stream.extend(message(b'Z', b"T"));
        let after = message(b'D', b"row data");
        stream.extend(&after);
        for chunk in [1, 2, 3, 7, 1000] {
            let mut framing = awaiting_one_batch();
            let (seen, report) = feed(&mut framing, &stream, chunk);
            let mut want = message(b'N', b"notice");
            want.extend(message(b'Z', b"T"));
            want.extend(&after);
            assert_eq!(seen, want, "chunk {chunk}");
            assert_eq!(framing.in_batch, 0);
            assert_eq!(
                (report.completed, report.rows, report.failed),
                (3, 3, false)
            );
        }
    }

    #[test]
    fn passes_the_first_error_and_counts_what_ran_before_it() {
        let mut stream = message(b'1', b"");
        stream.extend(message(b'2', b""));
        stream.extend(message(b'C', b"UPDATE 4\0"));
        stream.extend(message(b'2', b""));
        let error = message(b'E', b"SERROR\0C23505\0Mduplicate\0\0");
        stream.extend(&error);
        stream.extend(message(b'Z', b"E"));
        let mut framing = awaiting_one_batch();
        let (seen, report) = feed(&mut framing, &stream, 4);
        let mut want = error.clone();
        want.extend(message(b'Z', b"E"));
        assert_eq!(seen, want);
        assert_eq!((report.completed, report.rows, report.failed), (1, 4, true));
    }

    #[test]
    fn outside_a_batch_everything_passes() {
        let mut stream = message(b'C', b"SELECT 1\0");
        stream.extend(message(b'Z', b"I"));
        for chunk in [1, 3, 6, 100] {
            let mut framing = ReadFraming::default();
            assert_eq!(
                feed(&mut framing, &stream, chunk).0,
                stream,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn queued_batches_go_out_in_order_and_their_reports_add_up() {
        let handle = BatchHandle::default();
        handle.arm(BytesMut::from(&b"first"[..]));
        handle.arm(BytesMut::from(&b"second"[..]));
        assert_eq!(handle.take().as_deref(), Some(&b"first"[..]));
        assert_eq!(handle.take().as_deref(), Some(&b"second"[..]));
        assert_eq!(handle.take(), None);

        let mut stream = Vec::new();
        for _ in 0..2 {
            stream.extend(message(b'2', b""));
            stream.extend(message(b'C', b"INSERT 0 1\0"));
            stream.extend(message(b'Z', b"T"));
        }
        let mut framing = ReadFraming {
            in_batch: 2,
            ..ReadFraming::default()
        };
        let (seen, report) = feed(&mut framing, &stream, 3);
        let mut want = message(b'Z', b"T");
        want.extend(message(b'Z', b"T"));
        assert_eq!(seen, want);
        assert_eq!(framing.in_batch, 0);
        assert_eq!(
            (report.completed, report.rows, report.failed),
            (2, 2, false)
        );
    }

    #[test]
    fn captures_row_descriptions_while_asked() {
        let mut body = 2u16.to_be_bytes().to_vec();
        for (name, oid) in [("name", 25u32), ("creation_time", 1184)] {
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            body.extend_from_slice(&7u32.to_be_bytes()); // table
            body.extend_from_slice(&2i16.to_be_bytes()); // column
            body.extend_from_slice(&oid.to_be_bytes());
            body.extend_from_slice(&(-1i16).to_be_bytes()); // size
            body.extend_from_slice(&(-1i32).to_be_bytes()); // modifier
            body.extend_from_slice(&[0; 2]); // format
        }
        let field = |name: &str, type_oid| DescribedField {
            name: name.to_owned(),
            table_oid: 7,
            column_id: 2,
            type_oid,
            type_size: -1,
            type_modifier: -1,
        };
        let mut stream = message(b'T', &body);
        stream.extend(message(b'D', b"row"));
        stream.extend(message(b'Z', b"I"));
        for chunk in [1, 5, 9, 1000] {
            let handle = BatchHandle::default();
            handle.capture_row_descriptions();
            assert_eq!(
                read_in_pieces(&stream, chunk, &handle),
                stream,
                "chunk {chunk}"
            );
            assert_eq!(
                handle.take_row_descriptions(),
                vec![vec![field("name", 25), field("creation_time", 1184)]],
                "chunk {chunk}"
            );
            assert!(!handle.capturing());
        }
    }

    /// What the reader passes on of `stream` read in pieces of `chunk` bytes.
    fn read_in_pieces(stream: &[u8], chunk: usize, handle: &BatchHandle) -> Vec<u8> {
        let mut framing = ReadFraming::default();
        let mut seen = Vec::new();
        for piece in stream.chunks(chunk) {
            let mut data = piece.to_vec();
            let kept = framing.filter(&mut data, handle);
            seen.extend_from_slice(&data[..kept]);
        }
        seen
    }

    #[test]
    fn notes_the_interval_style_the_server_reports() {
        let mut stream = message(b'S', b"TimeZone\0UTC\0");
        stream.extend(message(b'S', b"IntervalStyle\0iso_8601\0"));
        stream.extend(message(b'Z', b"I"));
        for chunk in [1, 4, 13, 1000] {
            let handle = BatchHandle::default();
            assert_eq!(handle.interval_style(), IntervalStyle::Postgres);
            assert_eq!(
                read_in_pieces(&stream, chunk, &handle),
                stream,
                "chunk {chunk}"
            );
            assert_eq!(
                handle.interval_style(),
                IntervalStyle::Iso8601,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn row_counts_of_tags() {
        assert_eq!(rows_of_tag(b"INSERT 0 12\0"), 12);
        assert_eq!(rows_of_tag(b"DELETE 3\0"), 3);
        assert_eq!(rows_of_tag(b"CREATE TABLE\0"), 0);
    }
}
