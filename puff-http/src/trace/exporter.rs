//! The background task that sends queued spans to the collector: a batch every
//! `export_interval_ms`, or as soon as [`MAX_BATCH`] spans are queued. Spans reach it
//! through `puff_greenlet::trace::sink`'s bounded queue, so neither requests nor the
//! Python thread ever wait on an export; a failing collector costs one log line per
//! [`ERROR_LOG_INTERVAL`], which never shows the URL's credentials. At shutdown,
//! [`flush`] sends what is still queued, so the last requests' spans are not lost.

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use puff_greenlet::trace::{FinishedSpan, SpanReceiver, sink};

use super::config::TracingConfig;
use super::otlp;

/// Spans sent in one request at most.
pub(crate) const MAX_BATCH: usize = 512;
/// At most one log line about failed exports this often.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`flush`] waits for the last export at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// The running exporter's flush request (a notification) and its answer.
struct FlushHandle {
    request: tokio::sync::Notify,
    done: Mutex<mpsc::Receiver<()>>,
}

static FLUSH: OnceLock<(FlushHandle, mpsc::Sender<()>)> = OnceLock::new();

/// Send the spans still queued and wait (up to [`FLUSH_TIMEOUT`]) until they are sent;
/// called at shutdown from outside the Tokio runtime, which still runs the exporter.
pub(crate) fn flush() {
    let Some((handle, _)) = FLUSH.get() else {
        return;
    };
    let done = handle.done.lock().unwrap_or_else(|e| e.into_inner());
    while done.try_recv().is_ok() {} // answers to earlier requests
    handle.request.notify_one();
    if done.recv_timeout(FLUSH_TIMEOUT).is_err() {
        tracing::warn!(
            target: "puff::tracing",
            "the last spans were not exported within {} s of shutdown",
            FLUSH_TIMEOUT.as_secs()
        );
    }
}

pub(crate) struct Exporter {
    client: reqwest::Client,
    url: String,
    service_name: String,
    interval: Duration,
    failed_batches: u64,
    last_error_log: Option<Instant>,
    dropped_reported: u64,
}

impl Exporter {
    /// `None` when `config` has no endpoint.
    pub(crate) fn new(config: &TracingConfig) -> Result<Option<Exporter>, reqwest::Error> {
        let Some(url) = config.traces_url() else {
            return Ok(None);
        };
        // rustls needs one process-wide crypto provider for https collectors; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .user_agent(format!("puff/{}", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Exporter {
            client,
            url,
            service_name: config.service_name.clone(),
            interval: Duration::from_millis(config.export_interval_ms),
            failed_batches: 0,
            last_error_log: None,
            dropped_reported: 0,
        }))
    }

    /// Send batches until every sender is gone (the process is ending).
    pub(crate) async fn run(mut self, mut receiver: SpanReceiver) {
        let (answer, done) = mpsc::channel();
        let flush = FLUSH.get_or_init(|| {
            let handle = FlushHandle {
                request: tokio::sync::Notify::new(),
                done: Mutex::new(done),
            };
            (handle, answer)
        });
        let mut batch: Vec<FinishedSpan> = Vec::with_capacity(MAX_BATCH);
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let room = MAX_BATCH - batch.len();
            tokio::select! {
                received = receiver.recv_many(&mut batch, room) => {
                    if received == 0 {
                        self.export(&batch).await;
                        return;
                    }
                    if batch.len() < MAX_BATCH {
                        continue;
                    }
                }
                _ = tick.tick() => {}
                _ = flush.0.request.notified() => {
                    while let Ok(span) = receiver.try_recv() {
                        batch.push(span);
                        if batch.len() == MAX_BATCH {
                            self.export(&batch).await;
                            batch.clear();
                        }
                    }
                    self.export(&batch).await;
                    batch.clear();
                    let _ = flush.1.send(());
                    continue;
                }
            }
            if !batch.is_empty() {
                self.export(&batch).await;
                batch.clear();
            }
        }
    }

    async fn export(&mut self, batch: &[FinishedSpan]) {
        if batch.is_empty() {
            return;
        }
        let body = otlp::export_request(&self.service_name, batch);
        let sent = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .send()
            .await;
        let failure = match sent {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("the collector answered {}", response.status())),
            // `without_url`: the error must not print credentials in the endpoint.
            Err(e) => Some(e.without_url().to_string()),
        };
        if let Some(failure) = failure {
            self.failed_batches += 1;
            self.log_failure(&failure);
        }
    }

    fn log_failure(&mut self, failure: &str) {
        if self
            .last_error_log
            .is_some_and(|at| at.elapsed() < ERROR_LOG_INTERVAL)
        {
            return;
        }
        self.last_error_log = Some(Instant::now());
        let dropped = sink::dropped_spans();
        tracing::warn!(
            target: "puff::tracing",
            "cannot export spans to {}: {failure} ({} failed batches, {} spans dropped on a \
             full queue since the last report)",
            puff_greenlet::redact_url(&self.url),
            self.failed_batches,
            dropped - self.dropped_reported,
        );
        self.failed_batches = 0;
        self.dropped_reported = dropped;
    }
}
