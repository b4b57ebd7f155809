//! Every SQL statement of the outbox, in one place: the table (the migration users may
//! apply themselves, quoted in docs/tasks.md), the enqueue statement run on the caller's
//! connection, and the relay's statements.

/// The outbox table, and the channel its rows are announced on (NOTIFY payload: the
/// queue's name).
pub const TABLE: &str = "puff_task_outbox";
pub const CHANNEL: &str = "puff_task_outbox";

/// The table and its index; `IF NOT EXISTS` so it can run again. docs/tasks.md quotes it
/// as the migration (a test checks the two agree).
pub const MIGRATION: &str = "\
CREATE TABLE IF NOT EXISTS puff_task_outbox (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    task_id text NOT NULL,
    function text NOT NULL,
    payload text NOT NULL,
    options jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS puff_task_outbox_queue_id ON puff_task_outbox (queue, id);
";

/// Serializes table creation across sessions (two concurrent `CREATE TABLE IF NOT
/// EXISTS` can both try to create it, and one fails); any constant key works, this one
/// is "puffobx" in ASCII.
pub const CREATE_LOCK: &str = "SELECT pg_advisory_xact_lock(31654280057283192)";

/// True when the table exists (on the session's `search_path`).
pub const TABLE_EXISTS: &str = "SELECT to_regclass('puff_task_outbox') IS NOT NULL";

/// Run by `schedule_function(transaction=conn)` on `conn`, in its transaction, with
/// pyformat parameters (queue, task id, function, payload JSON, options JSON): the row,
/// and the notification Postgres delivers only if the transaction commits.
pub const ENQUEUE: &str = "\
WITH queued AS (
    INSERT INTO puff_task_outbox (queue, task_id, function, payload, options)
    VALUES (%s, %s, %s, %s, %s::jsonb)
    RETURNING queue
)
SELECT pg_notify('puff_task_outbox', queue) FROM queued";

/// The relay's move, in its transaction: takes up to $2 committed rows of queue $1 that
/// no other relay holds, oldest first; the rows are gone only if the transaction commits.
/// Also returns how long each row waited, by the database's clock.
pub const TAKE_BATCH: &str = "\
DELETE FROM puff_task_outbox WHERE id IN (
    SELECT id FROM puff_task_outbox WHERE queue = $1
    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
)
RETURNING id, task_id, function, payload, options::text,
    EXTRACT(EPOCH FROM clock_timestamp() - created_at)::float8";

/// Whether queue $1 has rows (an idle relay's cheap look before a transaction).
pub const HAS_ROWS: &str = "SELECT EXISTS (SELECT 1 FROM puff_task_outbox WHERE queue = $1)";

/// Rows of queue $1 waiting for a relay (for the metrics).
pub const COUNT_WAITING: &str = "SELECT count(*) FROM puff_task_outbox WHERE queue = $1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_quotes_the_migration() {
        let manual = include_str!("../../../docs/tasks.md");
        assert!(
            manual.contains(MIGRATION),
            "docs/tasks.md must quote outbox::sql::MIGRATION as it is"
        );
        let lock_key = 31654280057283192_i64.to_be_bytes();
        assert_eq!(&lock_key[1..], b"puffobx");
        for statement in [ENQUEUE, TAKE_BATCH, HAS_ROWS, COUNT_WAITING, TABLE_EXISTS] {
            assert!(statement.contains(TABLE));
        }
        assert!(ENQUEUE.contains(&format!("pg_notify('{CHANNEL}'")));
    }
}
