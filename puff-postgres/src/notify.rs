//! `LISTEN` / `NOTIFY`: each pooled connection's driver task keeps the notifications its
//! session receives in a queue, which `puff.psycopg2`'s `connection.notifies` and `poll()`
//! drain (through `streams::take_notifies`). A DB-API connection whose session LISTENs keeps its
//! pooled connection until it UNLISTENs or closes (see `session.rs`).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};

use tokio_postgres::{AsyncMessage, Notification};

use crate::connect::PgConnection;

/// Notifications received by one session, oldest first.
pub type NotificationQueue = Arc<Mutex<VecDeque<Notification>>>;

/// Most notifications kept per session; older ones are dropped beyond it (a session that
/// LISTENs but never reads must not grow without bound).
const QUEUE_LIMIT: usize = 100_000;

/// Drive `connection` on Tokio until it ends, queueing the notifications it receives.
pub(crate) fn drive(mut connection: PgConnection, url: String) -> NotificationQueue {
    let queue = NotificationQueue::default();
    let received = queue.clone();
    tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let mut q = received.lock().unwrap_or_else(|e| e.into_inner());
                    if q.len() >= QUEUE_LIMIT {
                        q.pop_front();
                    }
                    q.push_back(n);
                }
                Some(Ok(AsyncMessage::Notice(notice))) => {
                    tracing::debug!(
                        "Postgres {url}: {}: {}",
                        notice.severity(),
                        notice.message()
                    );
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!("Postgres connection to {url} ended: {e}");
                    break;
                }
                None => break,
            }
        }
    });
    queue
}

/// Everything in `queue`, oldest first, leaving it empty.
pub(crate) fn take(queue: &NotificationQueue) -> Vec<Notification> {
    let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
    q.drain(..).collect()
}

/// True when `sql` is a `LISTEN` (the session then keeps its pooled connection).
pub(crate) fn is_listen(sql: &str) -> bool {
    crate::cursor::first_keyword(sql).eq_ignore_ascii_case("LISTEN")
}

/// True when `sql` is `UNLISTEN *`, after which nothing is listened to.
pub(crate) fn is_unlisten_all(sql: &str) -> bool {
    let rest = crate::cursor::skip_comments(sql);
    let Some(after) = rest.get(..8).filter(|w| w.eq_ignore_ascii_case("UNLISTEN")) else {
        return false;
    };
    rest[after.len()..].trim().trim_end_matches(';').trim() == "*"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_statements() {
        assert!(is_listen("LISTEN ch"));
        assert!(!is_listen("LISTENER"));
        assert!(is_unlisten_all("unlisten * ;"));
        assert!(!is_unlisten_all("UNLISTEN ch"));
        assert!(!is_unlisten_all("SELECT 1"));
    }
}
