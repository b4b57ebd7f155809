//! Claiming ticks in the backend: one compare-and-set of a schedule's last fired tick that
//! also enqueues the ticks' tasks. On Redis it is one Lua script over the hash
//! `puff:tq:{name}:periodic` (schedule name -> last fired tick, unix ms, never expiring);
//! in process, the same under a mutex.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use puff_redis::RedisError;
use puff_redis::redis::{self, Value};

use crate::queue::Store;
use crate::redis_store::{RedisStore, Script};
use crate::task::NewTask;

/// ARGV: prefix, schedule, expected last tick ('' = none), new last tick, function,
/// payload, timeout_ms, keep_ms, max_retries, then (task id, tick) pairs. Returns
/// `{1, enqueued}`, or `{0, stored last tick}` when another process got there first. A
/// task whose id exists (queued, running or finished) is not enqueued again.
const CLAIM_TICKS: &str = r#"
local p, name = ARGV[1], ARGV[2]
local stored = redis.call('HGET', p .. 'periodic', name) or ''
if stored ~= ARGV[3] then return {0, stored} end
redis.call('HSET', p .. 'periodic', name, ARGV[4])
local enqueued = 0
for i = 10, #ARGV, 2 do
  local id, tick = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', p .. 'task:' .. id, p .. 'result:' .. id) == 0 then
    redis.call('HSET', p .. 'task:' .. id, 'function', ARGV[5], 'payload', ARGV[6],
      'timeout_ms', ARGV[7], 'keep_ms', ARGV[8], 'max_retries', ARGV[9], 'attempts', 0,
      'score', tick, 'traceparent', '')
    redis.call('ZADD', p .. 'queue', tick, id)
    enqueued = enqueued + 1
  end
end
return {1, enqueued}
"#;

static CLAIM_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_TICKS.into()));

/// The last fired ticks of an in-process queue's schedules.
#[derive(Default)]
pub(crate) struct MemoryTicks {
    last: Mutex<HashMap<String, u64>>,
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Ours: the last tick is now the new one; this many tasks were enqueued.
    Won(u64),
    /// The stored last tick was not the expected one: it is this.
    Lost(Option<u64>),
}

/// The stored last tick of `schedule`.
pub(crate) async fn last_tick(
    store: &Store,
    ticks: &MemoryTicks,
    schedule: &str,
) -> Result<Option<u64>, RedisError> {
    match store {
        Store::Memory(_) => Ok(lock(&ticks.last).get(schedule).copied()),
        Store::Redis(r) => {
            let mut cmd = redis::cmd("HGET");
            cmd.arg(format!("{}periodic", r.prefix())).arg(schedule);
            let reply = r.pool().query(&cmd).await?;
            parse_tick(&reply)
        }
    }
}

fn parse_tick(value: &Value) -> Result<Option<u64>, RedisError> {
    let text: Option<String> = redis::from_redis_value(value)
        .map_err(|_| RedisError::Data(format!("unexpected last tick {value:?}")))?;
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| RedisError::Data(format!("unreadable last tick `{t}`"))),
    }
}

/// If the stored last tick of `schedule` is `expected`, make it `newest` and enqueue
/// `tasks` (their `scheduled_time_unix_ms` is their tick), all at once.
pub(crate) async fn claim(
    store: &Store,
    ticks: &MemoryTicks,
    schedule: &str,
    expected: Option<u64>,
    newest: u64,
    tasks: Vec<NewTask>,
) -> Result<Claim, RedisError> {
    match store {
        Store::Memory(m) => {
            let mut last = lock(&ticks.last);
            let stored = last.get(schedule).copied();
            if stored != expected {
                return Ok(Claim::Lost(stored));
            }
            last.insert(schedule.to_owned(), newest);
            let enqueued = tasks.len() as u64;
            tasks.into_iter().for_each(|t| {
                m.schedule(t);
            });
            Ok(Claim::Won(enqueued))
        }
        Store::Redis(r) => claim_on_redis(r, schedule, expected, newest, &tasks).await,
    }
}

async fn claim_on_redis(
    r: &RedisStore,
    schedule: &str,
    expected: Option<u64>,
    newest: u64,
    tasks: &[NewTask],
) -> Result<Claim, RedisError> {
    // Without tasks (ticks skipped by catch_up) only the last tick moves.
    let template = tasks.first();
    let ticks: Vec<String> = tasks
        .iter()
        .map(|t| t.scheduled_time_unix_ms.to_string())
        .collect();
    let expected = expected.map(|e| e.to_string()).unwrap_or_default();
    let newest = newest.to_string();
    let (timeout, keep, retries) = template.map_or_else(Default::default, |t| {
        (
            t.timeout_ms.to_string(),
            t.keep_results_for_ms.to_string(),
            t.max_retries.to_string(),
        )
    });
    let (function, payload) = template.map_or(("", ""), |t| (&t.function, &t.payload));
    let mut args: Vec<&str> = vec![
        r.prefix(),
        schedule,
        &expected,
        &newest,
        function,
        payload,
        &timeout,
        &keep,
        &retries,
    ];
    for (task, tick) in tasks.iter().zip(&ticks) {
        args.push(&task.id);
        args.push(tick);
    }
    let reply = CLAIM_SCRIPT.run(r.pool(), &args).await?;
    let unexpected = || RedisError::Data(format!("unexpected reply to the tick claim: {reply:?}"));
    let Value::Array(items) = &reply else {
        return Err(unexpected());
    };
    match items.as_slice() {
        [won, detail] => match redis::from_redis_value::<i64>(won) {
            Ok(1) => Ok(Claim::Won(
                redis::from_redis_value::<u64>(detail).map_err(|_| unexpected())?,
            )),
            Ok(0) => Ok(Claim::Lost(parse_tick(detail)?)),
            _ => Err(unexpected()),
        },
        _ => Err(unexpected()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
