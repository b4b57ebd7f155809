//! The Redis store: every state change is one Lua script, so claiming, completing and
//! retrying are atomic across any number of processes.
//!
//! Keys, under `puff:tq:{name}:` (the braces make one Redis Cluster slot per queue):
//! `queue` (sorted set of waiting ids, score = scheduled time), `running` (sorted set of
//! claimed ids, score = deadline), `task:{id}` (hash: function, payload, limits, attempts,
//! the claiming worker), `result:{id}` (the outcome, expiring), `worker:{id}` (a worker's
//! lease, expiring unless renewed) and `dead` (list of dead letters, JSON); `periodic` (the
//! last fired tick of each schedule) belongs to `periodic::claim`.
//! lease, expiring unless renewed) and `dead` (list of dead letters, JSON).
//! `unique:{key}` holds the id of the queued or running task scheduled with that
//! `unique_key` (cleared when it completes, is cancelled or dead-lettered; a holder whose
//! task hash is gone counts as free), and `rate:{function}` is a rate-limited function's
//! sliding log of claim times (sorted set, score = the claiming worker's clock in ms, as
//! in `queue`).

use std::sync::Arc;

use puff_redis::redis::{self, Value};
use puff_redis::{RedisError, RedisPool};
use sha1::Digest;

use crate::metrics::Reaped;
use crate::rate_limit::{ClaimBatch, RateLimit};
use crate::task::{ClaimedTask, DeadLetter, NewTask, RETRIES_EXHAUSTED};

/// Requeues (1) or dead-letters (2) one claimed task (0: it is gone); shared by the reaper
/// and `release`.
const REQUEUE_FN: &str = r#"
local function requeue(p, id, reason, now)
  local k = p .. 'task:' .. id
  redis.call('ZREM', p .. 'running', id)
  local t = redis.call('HMGET', k, 'attempts', 'max_retries', 'score', 'keep_ms', 'function', 'payload')
  if not t[1] then return 0 end
  local attempts = tonumber(t[1])
  if attempts > tonumber(t[2]) then
    -- The limits and trace too, so that `puff-cli tasks retry` can revive the task as it was.
    local limits = redis.call('HMGET', k, 'timeout_ms', 'traceparent', 'unique')
    redis.call('RPUSH', p .. 'dead', cjson.encode({id = id, ['function'] = t[5], payload = t[6],
      attempts = attempts, reason = reason, at_ms = now,
      timeout_ms = tonumber(limits[1]), keep_ms = tonumber(t[4]), max_retries = tonumber(t[2]),
      traceparent = limits[2], unique = limits[3]}))
    local message = 'gave up after ' .. attempts .. ' attempts (last one: ' .. reason .. ')'
    redis.call('SET', p .. 'result:' .. id, cjson.encode({error = {type = ARGV_DEAD_TYPE,
      message = message, traceback = ''}}), 'PX', t[4])
    free_unique(p, id)
    redis.call('DEL', k)
    return 2
  end
  redis.call('ZADD', p .. 'queue', t[3], id)
  return 1
end
"#;

/// Frees the `unique_key` task `id` holds (call before its hash is deleted).
pub(crate) const FREE_UNIQUE_FN: &str = r#"
local function free_unique(p, id)
  local key = redis.call('HGET', p .. 'task:' .. id, 'unique')
  if key and redis.call('GET', p .. 'unique:' .. key) == id then
    redis.call('DEL', p .. 'unique:' .. key)
  end
end
"#;

/// Returns 0 (and changes nothing) when task `id` is already queued, running or finished
/// (the outbox relay may hand the same task over twice, see `outbox`); with a unique_key
/// held by a live task, that task's id; else 1.
const SCHEDULE: &str = r#"
local p, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', p .. 'task:' .. id, p .. 'result:' .. id) > 0 then return 0 end
-- With a unique_key (ARGV[10]), a queued or running task holding it is the answer.
local unique = ARGV[10]
if unique then
  local holder = redis.call('GET', p .. 'unique:' .. unique)
  if holder and redis.call('EXISTS', p .. 'task:' .. holder) == 1 then return holder end
  redis.call('SET', p .. 'unique:' .. unique, id)
  redis.call('HSET', p .. 'task:' .. id, 'unique', unique)
end
redis.call('HSET', p .. 'task:' .. id, 'function', ARGV[4], 'payload', ARGV[5],
  'timeout_ms', ARGV[6], 'keep_ms', ARGV[7], 'max_retries', ARGV[8], 'attempts', 0, 'score', ARGV[3],
  'traceparent', ARGV[9])
redis.call('ZADD', p .. 'queue', ARGV[3], id)
return 1
"#;

const CLAIM: &str = r#"
local p, now, worker = ARGV[1], tonumber(ARGV[2]), ARGV[4]
local ids = redis.call('ZRANGEBYSCORE', p .. 'queue', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', p .. 'queue', id)
  local k = p .. 'task:' .. id
  local t = redis.call('HMGET', k, 'function', 'payload', 'timeout_ms', 'attempts', 'traceparent')
  if t[1] then
    local attempts = tonumber(t[4]) + 1
    redis.call('HSET', k, 'worker', worker, 'attempts', attempts)
    redis.call('ZADD', p .. 'running', now + tonumber(t[3]), id)
    out[#out + 1] = id
    out[#out + 1] = t[1]
    out[#out + 1] = t[2]
    out[#out + 1] = attempts
    out[#out + 1] = t[5] or ''
  end
end
return out
"#;

const COMPLETE: &str = r#"
local p, id = ARGV[1], ARGV[2]
local k = p .. 'task:' .. id
local keep = redis.call('HGET', k, 'keep_ms')
if not keep then return 0 end
redis.call('SET', p .. 'result:' .. id, ARGV[3], 'PX', keep)
free_unique(p, id)
redis.call('DEL', k)
redis.call('ZREM', p .. 'running', id)
redis.call('ZREM', p .. 'queue', id)
return 1
"#;

const CANCEL: &str = r#"
local p, id = ARGV[1], ARGV[2]
free_unique(p, id)
local gone = redis.call('DEL', p .. 'task:' .. id)
redis.call('ZREM', p .. 'running', id)
redis.call('ZREM', p .. 'queue', id)
return gone
"#;

/// CLAIM for a queue with rate limits (ARGV[5..]: function, limit, period_ms triples): a
/// due task whose function started `limit` runs in the last `period_ms` (on the workers'
/// clocks, like delays) is moved to the moment the function has room again (the oldest
/// start in its log plus `period_ms`: the same moment for every task held back until
/// then, so they keep their order, ties going by id), and later due tasks are claimed
/// past it. The last element of the reply: ms until the first held-back function
/// has room again or, when the claim took fewer than asked, until the first queued task is
/// due (-1: neither).
const CLAIM_RATED: &str = r#"
local p, now, max, worker = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local limits = {}
for i = 5, #ARGV - 2, 3 do
  limits[ARGV[i]] = {tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])}
end
local room, reopen = {}, {}
local out, claimed, soonest = {}, 0, -1
while claimed < max do
  local ids = redis.call('ZRANGEBYSCORE', p .. 'queue', '-inf', now, 'LIMIT', 0, max - claimed + 16)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local k = p .. 'task:' .. id
    local t = redis.call('HMGET', k, 'function', 'payload', 'timeout_ms', 'attempts', 'traceparent')
    local fn = t[1]
    local limit = fn and limits[fn]
    local log = limit and (p .. 'rate:' .. fn)
    if limit and room[fn] == nil then
      redis.call('ZREMRANGEBYSCORE', log, '-inf', now - limit[2])
      room[fn] = limit[1] - redis.call('ZCARD', log)
    end
    if limit and room[fn] <= 0 then
      if reopen[fn] == nil then
        local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
        reopen[fn] = math.max(now + 1, (tonumber(oldest[2]) or now) + limit[2])
        if soonest < 0 or reopen[fn] - now < soonest then soonest = reopen[fn] - now end
      end
      redis.call('ZADD', p .. 'queue', reopen[fn], id)
    else
      redis.call('ZREM', p .. 'queue', id)
      if fn then
        local attempts = tonumber(t[4]) + 1
        redis.call('HSET', k, 'worker', worker, 'attempts', attempts)
        redis.call('ZADD', p .. 'running', now + tonumber(t[3]), id)
        if limit then
          room[fn] = room[fn] - 1
          redis.call('ZADD', log, now, id .. ':' .. attempts)
          redis.call('PEXPIRE', log, limit[2])
        end
        out[#out + 1] = id
        out[#out + 1] = fn
        out[#out + 1] = t[2]
        out[#out + 1] = attempts
        out[#out + 1] = t[5] or ''
        claimed = claimed + 1
        if claimed >= max then break end
      end
    end
  end
end
if claimed < max then
  -- Nothing more is due: the held-back tasks (and any delayed one) wake the worker in time.
  local first = redis.call('ZRANGE', p .. 'queue', 0, 0, 'WITHSCORES')
  if first[2] then
    local due_in = math.max(1, tonumber(first[2]) - now)
    if soonest < 0 or due_in < soonest then soonest = due_in end
  end
end
out[#out + 1] = soonest
return out
"#;

/// Timed-out tasks, then tasks whose worker's lease lapsed; returns {retried, dead}.
const REAP_BODY: &str = r#"
local p, now = ARGV[1], tonumber(ARGV[2])
local counts = {0, 0}
local function count(done)
  if done > 0 then counts[done] = counts[done] + 1 end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'running', '-inf', now)) do
  count(requeue(p, id, 'timed out', now))
end
for _, id in ipairs(redis.call('ZRANGE', p .. 'running', 0, -1)) do
  local w = redis.call('HGET', p .. 'task:' .. id, 'worker')
  if (not w) or redis.call('EXISTS', p .. 'worker:' .. w) == 0 then
    count(requeue(p, id, 'worker lost', now))
  end
end
return counts
"#;

const RELEASE_BODY: &str = r#"
local p, now = ARGV[1], tonumber(ARGV[2])
for i = 3, #ARGV do
  -- Handed back unfinished by a worker shutting down: that attempt does not count.
  if redis.call('HINCRBY', p .. 'task:' .. ARGV[i], 'attempts', -1) < 0 then
    redis.call('DEL', p .. 'task:' .. ARGV[i])
  end
  requeue(p, ARGV[i], 'worker shut down', now)
end
return 1
"#;

/// A Lua script sent by its SHA1 (loaded on first use, again after a server restart).
pub(crate) struct Script {
    source: String,
    sha: String,
}

impl Script {
    pub(crate) fn new(source: String) -> Script {
        let digest = sha1::Sha1::digest(source.as_bytes());
        let sha = digest.iter().map(|b| format!("{b:02x}")).collect();
        Script { source, sha }
    }

    /// A script that can call `requeue(...)` (and `free_unique(...)`).
    fn with_requeue(body: &str) -> Script {
        let dead_type = format!("'{RETRIES_EXHAUSTED}'");
        Script::new(format!(
            "{FREE_UNIQUE_FN}{}{body}",
            REQUEUE_FN.replace("ARGV_DEAD_TYPE", &dead_type)
        ))
    }

    /// A script that can call `free_unique(...)`.
    fn freeing_unique(body: &str) -> Script {
        Script::new(format!("{FREE_UNIQUE_FN}{body}"))
    }

    pub(crate) async fn run(&self, pool: &RedisPool, args: &[&str]) -> Result<Value, RedisError> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.sha).arg(0).arg(args);
        match pool.query(&cmd).await {
            Err(RedisError::Response(m)) if m.starts_with("NOSCRIPT") => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(&self.source).arg(0).arg(args);
                pool.query(&cmd).await
            }
            other => other,
        }
    }
}

struct Scripts {
    schedule: Script,
    claim: Script,
    claim_rated: Script,
    complete: Script,
    cancel: Script,
    reap: Script,
    release: Script,
}

/// The prefix of every key of queue `queue_name`.
pub(crate) fn key_prefix(queue_name: &str) -> String {
    format!("puff:tq:{{{queue_name}}}:")
}

pub struct RedisStore {
    pool: Arc<RedisPool>,
    prefix: String,
    scripts: Scripts,
}

fn data_error(what: &str, value: &Value) -> RedisError {
    RedisError::Data(format!("unexpected reply to {what}: {value:?}"))
}

fn int(value: &Value) -> Option<i64> {
    redis::from_redis_value(value).ok()
}

impl RedisStore {
    pub fn new(pool: Arc<RedisPool>, queue_name: &str) -> RedisStore {
        RedisStore {
            pool,
            prefix: key_prefix(queue_name),
            scripts: Scripts {
                schedule: Script::new(SCHEDULE.into()),
                claim: Script::new(CLAIM.into()),
                claim_rated: Script::new(CLAIM_RATED.into()),
                complete: Script::freeing_unique(COMPLETE),
                cancel: Script::freeing_unique(CANCEL),
                reap: Script::with_requeue(REAP_BODY),
                release: Script::with_requeue(RELEASE_BODY),
            },
        }
    }

    pub fn redacted_url(&self) -> &str {
        self.pool.redacted_url()
    }

    /// The pool and key prefix, for [`crate::admin::QueueAdmin`].
    pub(crate) fn pool_and_prefix(&self) -> (Arc<RedisPool>, String) {
        (self.pool.clone(), self.prefix.clone())
    }

    /// `puff:tq:{name}:`, for scripts kept elsewhere (periodic ticks).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn pool(&self) -> &RedisPool {
        &self.pool
    }

    /// False when a task with this id is already queued, running or finished.
    pub async fn schedule(&self, task: &NewTask) -> Result<bool, RedisError> {
        let reply = self.run_schedule(task, None).await?;
        Ok(int(&reply) == Some(1))
    }

    /// Queue `task` unless a queued or running task holds `unique_key`; the id of the task
    /// that holds it now (`task`'s own when it was queued).
    pub async fn schedule_unique(
        &self,
        task: &NewTask,
        unique_key: &str,
    ) -> Result<String, RedisError> {
        match self.run_schedule(task, Some(unique_key)).await? {
            Value::BulkString(holder) => String::from_utf8(holder)
                .map_err(|e| RedisError::Data(format!("a task id that is not UTF-8: {e}"))),
            _ => Ok(task.id.clone()),
        }
    }

    async fn run_schedule(
        &self,
        task: &NewTask,
        unique_key: Option<&str>,
    ) -> Result<Value, RedisError> {
        let (score, timeout, keep, retries) = (
            task.scheduled_time_unix_ms.to_string(),
            task.timeout_ms.to_string(),
            task.keep_results_for_ms.to_string(),
            task.max_retries.to_string(),
        );
        let args = [
            self.prefix.as_str(),
            &task.id,
            &score,
            &task.function,
            &task.payload,
            &timeout,
            &keep,
            &retries,
            task.traceparent.as_deref().unwrap_or(""),
        ];
        let mut args = args.to_vec();
        args.extend(unique_key);
        self.scripts.schedule.run(&self.pool, &args).await
    }

    pub async fn claim(
        &self,
        worker: &str,
        max: usize,
        now: u64,
    ) -> Result<Vec<ClaimedTask>, RedisError> {
        let (now, max) = (now.to_string(), max.to_string());
        let reply = self
            .scripts
            .claim
            .run(&self.pool, &[&self.prefix, &now, &max, worker])
            .await?;
        let Value::Array(items) = &reply else {
            return Err(data_error("claim", &reply));
        };
        parse_claimed(items).ok_or_else(|| data_error("claim", &reply))
    }

    /// [`RedisStore::claim`], holding back tasks of functions at their rate limit.
    pub async fn claim_rated(
        &self,
        worker: &str,
        max: usize,
        now: u64,
        limits: &[RateLimit],
    ) -> Result<ClaimBatch, RedisError> {
        let (now, max) = (now.to_string(), max.to_string());
        let limit_args: Vec<(String, String)> = limits
            .iter()
            .map(|l| (l.limit.to_string(), l.period_ms.to_string()))
            .collect();
        let mut args = vec![self.prefix.as_str(), &now, &max, worker];
        for (limit, (count, period)) in limits.iter().zip(&limit_args) {
            args.extend([limit.function.as_str(), count, period]);
        }
        let reply = self.scripts.claim_rated.run(&self.pool, &args).await?;
        let batch = match &reply {
            Value::Array(items) => items.split_last().and_then(|(wait, tasks)| {
                Some(ClaimBatch {
                    tasks: parse_claimed(tasks)?,
                    retry_in_ms: u64::try_from(int(wait)?).ok(),
                })
            }),
            _ => None,
        };
        batch.ok_or_else(|| data_error("claim", &reply))
    }

    pub async fn complete(&self, id: &str, outcome: &str) -> Result<bool, RedisError> {
        let reply = self
            .scripts
            .complete
            .run(&self.pool, &[&self.prefix, id, outcome])
            .await?;
        Ok(int(&reply) == Some(1))
    }

    pub async fn release(&self, ids: &[String], now: u64) -> Result<(), RedisError> {
        let now = now.to_string();
        let mut args = vec![self.prefix.as_str(), &now];
        args.extend(ids.iter().map(String::as_str));
        self.scripts.release.run(&self.pool, &args).await?;
        Ok(())
    }

    pub async fn result(&self, id: &str) -> Result<Option<String>, RedisError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(format!("{}result:{id}", self.prefix));
        let reply = self.pool.query(&cmd).await?;
        match reply {
            Value::Nil => Ok(None),
            other => redis::from_redis_value(&other)
                .map(Some)
                .map_err(|_| data_error("GET", &other)),
        }
    }

    pub async fn cancel(&self, id: &str) -> Result<bool, RedisError> {
        let reply = self
            .scripts
            .cancel
            .run(&self.pool, &[&self.prefix, id])
            .await?;
        Ok(int(&reply) == Some(1))
    }

    pub async fn reap(&self, now: u64) -> Result<Reaped, RedisError> {
        let now = now.to_string();
        let reply = self
            .scripts
            .reap
            .run(&self.pool, &[&self.prefix, &now])
            .await?;
        match &reply {
            Value::Array(counts) => match counts.as_slice() {
                [retried, dead] => Ok(Reaped {
                    retried: int(retried).unwrap_or(0).max(0) as u64,
                    dead_lettered: int(dead).unwrap_or(0).max(0) as u64,
                }),
                _ => Err(data_error("reap", &reply)),
            },
            _ => Err(data_error("reap", &reply)),
        }
    }

    /// Set or renew this worker's lease.
    pub async fn renew_lease(&self, worker: &str, lease_ms: u64) -> Result<(), RedisError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}worker:{worker}", self.prefix))
            .arg(1)
            .arg("PX")
            .arg(lease_ms);
        self.pool.query(&cmd).await?;
        Ok(())
    }

    /// Give the lease up at once (clean shutdown).
    pub async fn drop_lease(&self, worker: &str) -> Result<(), RedisError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(format!("{}worker:{worker}", self.prefix));
        self.pool.query(&cmd).await?;
        Ok(())
    }

    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, RedisError> {
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(format!("{}dead", self.prefix))
            .arg(-(limit.max(1) as i64))
            .arg(-1);
        let reply = self.pool.query(&cmd).await?;
        let entries: Vec<String> =
            redis::from_redis_value(&reply).map_err(|_| data_error("LRANGE", &reply))?;
        entries
            .iter()
            .map(|e| {
                serde_json::from_str(e)
                    .map_err(|err| RedisError::Data(format!("unreadable dead letter {e}: {err}")))
            })
            .collect()
    }

    /// (queued, running) counts.
    pub async fn counts(&self) -> Result<(usize, usize), RedisError> {
        let count = |key: &str| {
            let mut cmd = redis::cmd("ZCARD");
            cmd.arg(format!("{}{key}", self.prefix));
            cmd
        };
        let (queue, running) = (count("queue"), count("running"));
        let q = int(&self.pool.query(&queue).await?).unwrap_or(0);
        let r = int(&self.pool.query(&running).await?).unwrap_or(0);
        Ok((q.max(0) as usize, r.max(0) as usize))
    }
}

/// CLAIM's reply: (id, function, payload, attempt, traceparent) for each task.
fn parse_claimed(items: &[Value]) -> Option<Vec<ClaimedTask>> {
    let text = |v: &Value| redis::from_redis_value::<String>(v).ok();
    items
        .chunks(5)
        .map(|c| match c {
            [id, function, payload, attempt, traceparent] => Some(ClaimedTask {
                id: text(id)?,
                function: text(function)?,
                payload: text(payload)?,
                attempt: u32::try_from(int(attempt)?).ok()?,
                traceparent: text(traceparent).filter(|t| !t.is_empty()),
            }),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
}
