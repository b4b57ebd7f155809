//! [`PubSubClient`] and [`PubSubConnection`]: subscriptions registered per process and fed
//! either by one Redis subscriber connection (multiplexing every channel) or by in-process
//! publishes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use puff_greenlet::supervision::worker_count;
use puff_redis::redis::aio::PubSubSink;
use puff_redis::{RedisError, RedisPool};
use tokio::sync::{mpsc, watch};

use crate::config::Backend;

/// Marks a payload published by Puff: magic, then a u16 id length, the id and the body.
/// Payloads without it (from `redis-cli`, other clients) arrive with an empty sender id.
const MAGIC: &[u8] = b"\0puff1";

/// Messages queued for one connection that is not receiving; beyond this, new messages for
/// it are dropped (and counted in a warning) so one stalled subscriber cannot exhaust memory.
pub const MAX_QUEUED: usize = 65_536;

/// Longest pause between reconnect attempts of the subscriber connection.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One message as a subscriber receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubSubMessage {
    pub channel: String,
    pub body: Vec<u8>,
    /// The connection id it was published as (`publish_as`), or the publishing
    /// connection's; empty for messages from non-Puff publishers.
    pub from_connection_id: String,
}

impl PubSubMessage {
    fn encode(from: &str, body: &[u8]) -> Result<Vec<u8>, RedisError> {
        let len = u16::try_from(from.len())
            .map_err(|_| RedisError::Data("a connection id longer than 65535 bytes".into()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 2 + from.len() + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(from.as_bytes());
        out.extend_from_slice(body);
        Ok(out)
    }

    fn decode(channel: String, payload: &[u8]) -> PubSubMessage {
        let decoded = payload.strip_prefix(MAGIC).and_then(|rest| {
            let len = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
            let id = std::str::from_utf8(rest.get(2..2 + len)?).ok()?;
            Some((id.to_owned(), rest[2 + len..].to_vec()))
        });
        let (from_connection_id, body) =
            decoded.unwrap_or_else(|| (String::new(), payload.to_vec()));
        PubSubMessage {
            channel,
            body,
            from_connection_id,
        }
    }
}

type Sender = mpsc::Sender<Arc<PubSubMessage>>;

/// channel -> subscriber key -> sender.
#[derive(Default)]
struct Registry {
    channels: HashMap<String, HashMap<u64, Sender>>,
}

struct RedisBackend {
    pool: Arc<RedisPool>,
    /// The subscriber connection's command half; `None` while reconnecting. Registry
    /// changes happen while holding this lock, so SUBSCRIBE/UNSUBSCRIBE follow them in order.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
}

struct Shared {
    name: String,
    registry: RwLock<Registry>,
    redis: Option<RedisBackend>,
    /// Set when in process but one of several workers: the error every publish returns.
    refusal: Option<String>,
    next_key: AtomicU64,
    /// Messages dropped because a subscriber's queue was full.
    dropped: AtomicU64,
    tokio: tokio::runtime::Handle,
    /// Set when the client shuts down: the subscriber task stops.
    stopped: watch::Sender<bool>,
}

impl Shared {
    fn fan_out(&self, message: PubSubMessage) {
        let Ok(registry) = self.registry.read() else {
            return;
        };
        if let Some(subscribers) = registry.channels.get(&message.channel) {
            let message = Arc::new(message);
            let (mut delivered, mut full) = (0, 0);
            for sender in subscribers.values() {
                match sender.try_send(message.clone()) {
                    Ok(()) => delivered += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        full += 1;
                        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed);
                        if dropped.is_power_of_two() {
                            tracing::warn!(
                                "pubsub `{}`: a connection has {MAX_QUEUED} messages waiting \
                                 and is not receiving; {} messages dropped so far",
                                self.name,
                                dropped + 1
                            );
                        }
                    }
                    // The connection is gone; it unsubscribes on its way out.
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
            crate::metrics::fanned_out(&self.name, delivered, full);
        }
    }

    /// Add a subscriber; true when the channel had none (so the server must be told).
    fn register(&self, channel: &str, key: u64, sender: Sender) -> bool {
        let Ok(mut registry) = self.registry.write() else {
            return false;
        };
        let subscribers = registry.channels.entry(channel.to_owned()).or_default();
        let first = subscribers.is_empty();
        if subscribers.insert(key, sender).is_none() {
            crate::metrics::subscribed(&self.name);
        }
        first
    }

    /// Remove a subscriber; true when the channel has none left.
    fn unregister(&self, channel: &str, key: u64) -> bool {
        let Ok(mut registry) = self.registry.write() else {
            return false;
        };
        let Some(subscribers) = registry.channels.get_mut(channel) else {
            return false;
        };
        if subscribers.remove(&key).is_none() {
            return false;
        }
        crate::metrics::unsubscribed(&self.name);
        if subscribers.is_empty() {
            registry.channels.remove(channel);
            return true;
        }
        false
    }

    fn channel_names(&self) -> Vec<String> {
        self.registry
            .read()
            .map(|r| r.channels.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn subscribe(&self, channel: &str, key: u64, sender: Sender) {
        match &self.redis {
            None => {
                self.register(channel, key, sender);
            }
            Some(redis) => {
                let mut sink = redis.sink.lock().await;
                if self.register(channel, key, sender)
                    && let Some(s) = sink.as_mut()
                    && let Err(e) = s.subscribe(channel).await
                {
                    // The subscriber task re-subscribes every channel once it reconnects.
                    tracing::debug!("pubsub `{}`: SUBSCRIBE {channel} deferred: {e}", self.name);
                }
            }
        }
    }

    async fn unsubscribe(&self, channel: &str, key: u64) {
        match &self.redis {
            None => {
                self.unregister(channel, key);
            }
            Some(redis) => {
                let mut sink = redis.sink.lock().await;
                if self.unregister(channel, key)
                    && let Some(s) = sink.as_mut()
                    && let Err(e) = s.unsubscribe(channel).await
                {
                    tracing::debug!("pubsub `{}`: UNSUBSCRIBE {channel} failed: {e}", self.name);
                }
            }
        }
    }

    fn check_shared(&self) -> Result<(), RedisError> {
        match &self.refusal {
            Some(message) => Err(RedisError::Config(message.clone())),
            None => Ok(()),
        }
    }

    async fn publish(&self, from: &str, channel: &str, body: &[u8]) -> Result<(), RedisError> {
        self.check_shared()?;
        match &self.redis {
            None => {
                self.fan_out(PubSubMessage {
                    channel: channel.to_owned(),
                    body: body.to_vec(),
                    from_connection_id: from.to_owned(),
                });
            }
            Some(redis) => {
                let payload = PubSubMessage::encode(from, body)?;
                let mut cmd = puff_redis::redis::cmd("PUBLISH");
                cmd.arg(channel).arg(payload);
                redis.pool.query(&cmd).await?;
            }
        }
        crate::metrics::published(&self.name);
        Ok(())
    }

    /// Keep one subscriber connection up, re-subscribing every live channel after each
    /// (re)connect, and fan its messages out.
    async fn run_subscriber(self: Arc<Self>) {
        let Some(redis) = &self.redis else { return };
        let mut stopped = self.stopped.subscribe();
        let mut backoff = Duration::from_millis(50);
        let mut warned = false;
        loop {
            if *stopped.borrow() {
                return;
            }
            let connected = async {
                let pubsub = redis
                    .pool
                    .client()
                    .get_async_pubsub()
                    .await
                    .map_err(|e| RedisError::from_redis(&e, redis.pool.redacted_url()))?;
                let (mut sink, stream) = pubsub.split();
                let mut guard = redis.sink.lock().await;
                for channel in self.channel_names() {
                    sink.subscribe(&channel)
                        .await
                        .map_err(|e| RedisError::from_redis(&e, redis.pool.redacted_url()))?;
                }
                *guard = Some(sink);
                Ok::<_, RedisError>(stream)
            };
            let stream = tokio::select! {
                s = connected => s,
                _ = stopped.changed() => return,
            };
            match stream {
                Ok(mut stream) => {
                    if warned {
                        tracing::info!(
                            "pubsub `{}`: reconnected to {}; subscriptions restored",
                            self.name,
                            redis.pool.redacted_url()
                        );
                    }
                    backoff = Duration::from_millis(50);
                    loop {
                        tokio::select! {
                            msg = stream.next() => match msg {
                                Some(msg) => {
                                    let channel = msg.get_channel_name().to_owned();
                                    self.fan_out(PubSubMessage::decode(channel, msg.get_payload_bytes()));
                                }
                                None => break,
                            },
                            _ = stopped.changed() => return,
                        }
                    }
                    *redis.sink.lock().await = None;
                    tracing::warn!(
                        "pubsub `{}`: lost the subscriber connection to {}; reconnecting",
                        self.name,
                        redis.pool.redacted_url()
                    );
                    warned = true;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(
                            "pubsub `{}`: {e}; retrying every {} ms or less",
                            self.name,
                            MAX_BACKOFF.as_millis()
                        );
                        warned = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {},
                        _ = stopped.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// A named pub/sub instance. Cheap to clone.
#[derive(Clone)]
pub struct PubSubClient {
    shared: Arc<Shared>,
}

impl PubSubClient {
    /// Start an instance on `backend`; with Redis, the subscriber connection is kept up in
    /// the background on `tokio`. In process while this is one of several worker
    /// processes, it refuses to be used (see [`PubSubClient::check_shared`]).
    pub fn start(
        name: impl Into<String>,
        backend: &Backend,
        tokio: &tokio::runtime::Handle,
    ) -> Result<PubSubClient, RedisError> {
        let name = name.into();
        let _entered = tokio.enter();
        let (redis, refusal) = match backend {
            Backend::Memory => (
                None,
                puff_redis::config::in_process_refusal(
                    "pubsub",
                    &name,
                    "each worker would have its own subscribers, so a message published in \
                     one worker would never reach the connections of the others",
                    worker_count(),
                ),
            ),
            Backend::Redis(config) => (
                Some(RedisBackend {
                    pool: Arc::new(RedisPool::new(config.clone())?),
                    sink: tokio::sync::Mutex::new(None),
                }),
                None,
            ),
        };
        let shared = Arc::new(Shared {
            name,
            registry: RwLock::new(Registry::default()),
            redis,
            refusal,
            next_key: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
            tokio: tokio.clone(),
            stopped: watch::channel(false).0,
        });
        if shared.redis.is_some() {
            tokio.spawn(shared.clone().run_subscriber());
        }
        Ok(PubSubClient { shared })
    }

    /// The running instance named `name` (`"default"` always exists), from the runtime's
    /// registry; `None` before the runtime started or for an unknown name.
    pub fn named(name: &str) -> Option<Arc<PubSubClient>> {
        puff_greenlet::PythonRuntime::global()
            .ok()?
            .resources()
            .get::<PubSubClient>(name)
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// `"redis"` or `"memory"`.
    pub fn backend_name(&self) -> &'static str {
        if self.shared.redis.is_some() {
            "redis"
        } else {
            "memory"
        }
    }

    /// The Redis URL with its password hidden, for the Redis backend.
    pub fn redacted_url(&self) -> Option<&str> {
        self.shared.redis.as_ref().map(|r| r.pool.redacted_url())
    }

    /// Err when this instance cannot serve its purpose: it is in process and this is one
    /// of several worker processes, so its subscribers would see only this worker's
    /// messages. Publishing checks it; Python also checks it when opening a connection.
    pub fn check_shared(&self) -> Result<(), RedisError> {
        self.shared.check_shared()
    }

    /// A fresh, unique connection id (128 random bits as hex).
    pub fn new_connection_id(&self) -> String {
        new_connection_id()
    }

    /// A new connection with a fresh id.
    pub fn connection(&self) -> PubSubConnection {
        self.connection_with_id(new_connection_id())
    }

    /// A new connection that publishes as `id` (e.g. one handed out earlier to a browser).
    pub fn connection_with_id(&self, id: impl Into<String>) -> PubSubConnection {
        let (sender, receiver) = mpsc::channel(MAX_QUEUED);
        PubSubConnection {
            id: id.into(),
            key: self.shared.next_key.fetch_add(1, Ordering::Relaxed),
            shared: self.shared.clone(),
            sender,
            receiver: tokio::sync::Mutex::new(receiver),
            channels: Mutex::new(HashSet::new()),
            closed: watch::channel(false).0,
        }
    }

    /// Publish `body` on `channel` with an empty sender id.
    pub async fn publish(&self, channel: &str, body: &[u8]) -> Result<(), RedisError> {
        self.shared.publish("", channel, body).await
    }

    /// Publish `body` on `channel` as the connection `from`.
    pub async fn publish_as(
        &self,
        from: &str,
        channel: &str,
        body: &[u8],
    ) -> Result<(), RedisError> {
        self.shared.publish(from, channel, body).await
    }

    /// Stop the subscriber connection (Redis backend); receivers see no more messages.
    pub fn stop(&self) {
        self.shared.stopped.send_replace(true);
    }
}

/// One subscriber: a set of channels and one queue of their messages.
///
/// ```ignore
/// let conn = pubsub.connection();
/// conn.subscribe("room").await;
/// while let Some(msg) = conn.receive().await { /* msg.body, msg.from_connection_id */ }
/// ```
pub struct PubSubConnection {
    id: String,
    key: u64,
    shared: Arc<Shared>,
    sender: Sender,
    receiver: tokio::sync::Mutex<mpsc::Receiver<Arc<PubSubMessage>>>,
    channels: Mutex<HashSet<String>>,
    closed: watch::Sender<bool>,
}

impl PubSubConnection {
    pub fn connection_id(&self) -> &str {
        &self.id
    }

    /// Start receiving `channel`'s messages (idempotent). With Redis down, the subscription
    /// is registered and takes effect as soon as the subscriber connection is back.
    pub async fn subscribe(&self, channel: &str) {
        if let Ok(mut channels) = self.channels.lock() {
            channels.insert(channel.to_owned());
        }
        self.shared
            .subscribe(channel, self.key, self.sender.clone())
            .await;
    }

    /// Stop receiving `channel`'s messages; ones already queued are still delivered.
    pub async fn unsubscribe(&self, channel: &str) {
        if let Ok(mut channels) = self.channels.lock() {
            channels.remove(channel);
        }
        self.shared.unsubscribe(channel, self.key).await;
    }

    /// The next message, or `None` once the connection is closed.
    pub async fn receive(&self) -> Option<Arc<PubSubMessage>> {
        let mut closed = self.closed.subscribe();
        if *closed.borrow() {
            return None;
        }
        let mut receiver = self.receiver.lock().await;
        tokio::select! {
            msg = receiver.recv() => msg,
            _ = closed.changed() => None,
        }
    }

    /// The message queue itself, for `tokio::select!` loops (e.g. an axum websocket).
    pub async fn receiver(
        &self,
    ) -> tokio::sync::MutexGuard<'_, mpsc::Receiver<Arc<PubSubMessage>>> {
        self.receiver.lock().await
    }

    /// Publish on `channel` as this connection.
    pub async fn publish(&self, channel: &str, body: &[u8]) -> Result<(), RedisError> {
        self.shared.publish(&self.id, channel, body).await
    }

    /// Unsubscribe from everything and end pending and future `receive` calls.
    pub fn close(&self) {
        self.closed.send_replace(true);
        let channels: Vec<String> = self
            .channels
            .lock()
            .map(|mut c| c.drain().collect())
            .unwrap_or_default();
        if channels.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let key = self.key;
        self.shared.tokio.spawn(async move {
            for channel in channels {
                shared.unsubscribe(&channel, key).await;
            }
        });
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }
}

impl Drop for PubSubConnection {
    fn drop(&mut self) {
        self.close();
    }
}

/// 128 bits from the process's random hasher keys, a counter and the clock, as hex.
fn new_connection_id() -> String {
    puff_greenlet::ids::unique_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_foreign_payloads() {
        let wire = PubSubMessage::encode("conn-1", b"hello").unwrap();
        let m = PubSubMessage::decode("ch".into(), &wire);
        assert_eq!(m.from_connection_id, "conn-1");
        assert_eq!(m.body, b"hello");
        let m = PubSubMessage::decode("ch".into(), b"plain text");
        assert_eq!(m.from_connection_id, "");
        assert_eq!(m.body, b"plain text");
        let truncated = &wire[..MAGIC.len() + 3];
        assert_eq!(PubSubMessage::decode("c".into(), truncated).body, truncated);
    }

    #[test]
    fn ids_are_unique() {
        let ids: HashSet<String> = (0..1000).map(|_| new_connection_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 32));
    }

    #[tokio::test]
    async fn in_process_fan_out() {
        let client =
            PubSubClient::start("t", &Backend::Memory, &tokio::runtime::Handle::current()).unwrap();
        let a = client.connection();
        let b = client.connection_with_id("b-id");
        a.subscribe("room").await;
        b.subscribe("room").await;
        b.publish("room", b"hi").await.unwrap();
        let got = a.receive().await.unwrap();
        assert_eq!(
            (got.channel.as_str(), got.body.as_slice()),
            ("room", &b"hi"[..])
        );
        assert_eq!(got.from_connection_id, "b-id");
        assert_eq!(b.receive().await.unwrap().from_connection_id, "b-id");
        a.unsubscribe("room").await;
        client.publish("room", b"again").await.unwrap();
        assert_eq!(b.receive().await.unwrap().body, b"again");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), a.receive())
                .await
                .is_err()
        );
        b.close();
        assert!(b.receive().await.is_none());
    }
}
