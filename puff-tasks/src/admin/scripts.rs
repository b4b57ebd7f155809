//! The Lua scripts of the operator's actions on a Redis queue (key layout in
//! `redis_store.rs`). Each one is a single atomic step, so it is safe while workers claim,
//! finish and reap tasks.

use crate::redis_store::FREE_UNIQUE_FN;

/// `find_dead(p, id)`: the raw entry and the decoded dead letter of task `id`, or nil.
const FIND_DEAD_FN: &str = r#"
local function find_dead(p, id)
  for _, entry in ipairs(redis.call('LRANGE', p .. 'dead', 0, -1)) do
    -- Decode only the entries that mention the id (a long list is scanned quickly).
    if string.find(entry, id, 1, true) then
      local ok, letter = pcall(cjson.decode, entry)
      if ok and type(letter) == 'table' and letter.id == id then return entry, letter end
    end
  end
  return nil
end
"#;

/// `revive(p, letter, now, timeout, keep, retries)`: a dead letter becomes a queued task
/// again, attempts reset, due now; its old `RetriesExhausted` result goes. The limits the
/// letter recorded win over the defaults given.
const REVIVE_FN: &str = r#"
local function revive(p, letter, now, timeout, keep, retries)
  local id = letter.id
  redis.call('HSET', p .. 'task:' .. id, 'function', letter['function'], 'payload', letter.payload,
    'timeout_ms', tonumber(letter.timeout_ms) or timeout, 'keep_ms', tonumber(letter.keep_ms) or keep,
    'max_retries', tonumber(letter.max_retries) or retries, 'attempts', 0, 'score', now,
    'traceparent', (type(letter.traceparent) == 'string' and letter.traceparent) or '')
  -- Its unique_key comes back with it, unless another live task took the key meanwhile.
  local unique = letter.unique
  if type(unique) == 'string' then
    local holder = redis.call('GET', p .. 'unique:' .. unique)
    if not holder or redis.call('EXISTS', p .. 'task:' .. holder) == 0 then
      redis.call('SET', p .. 'unique:' .. unique, id)
      redis.call('HSET', p .. 'task:' .. id, 'unique', unique)
    end
  end
  redis.call('ZADD', p .. 'queue', now, id)
  redis.call('DEL', p .. 'result:' .. id)
end
"#;

/// `state_of(p, id)`: `queued`, `running`, `dead`, `finished` or `unknown`.
const STATE_OF_FN: &str = r#"
local function state_of(p, id)
  if redis.call('EXISTS', p .. 'task:' .. id) == 1 then
    if redis.call('ZSCORE', p .. 'running', id) then return 'running' end
    return 'queued'
  end
  if find_dead(p, id) then return 'dead' end
  if redis.call('EXISTS', p .. 'result:' .. id) == 1 then return 'finished' end
  return 'unknown'
end
"#;

/// ARGV: prefix, limit, which sections (`q`, `r`, `d` in one string). Returns
/// {{queued, running, dead counts}, queued rows, running rows, dead entries (newest
/// first)}; a queued row is {id, scheduled ms, function, payload, attempts, max_retries,
/// timeout_ms, keep_ms}, a running row that plus {worker, lease alive (0/1)}.
const LIST_BODY: &str = r#"
local p, limit, which = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local counts = {redis.call('ZCARD', p .. 'queue'), redis.call('ZCARD', p .. 'running'),
  redis.call('LLEN', p .. 'dead')}
local queued, running, dead = {}, {}, {}
local function rows(set, out, with_worker)
  local found = redis.call('ZRANGE', p .. set, 0, limit - 1, 'WITHSCORES')
  for i = 1, #found, 2 do
    local id = found[i]
    local t = redis.call('HMGET', p .. 'task:' .. id, 'function', 'payload', 'attempts',
      'max_retries', 'timeout_ms', 'keep_ms', 'worker')
    local row = {id, found[i + 1], t[1], t[2], t[3], t[4], t[5], t[6]}
    if with_worker then
      row[9] = t[7]
      row[10] = (t[7] and redis.call('EXISTS', p .. 'worker:' .. t[7])) or 0
    end
    out[#out + 1] = row
  end
end
if limit > 0 then
  if string.find(which, 'q') then rows('queue', queued, false) end
  if string.find(which, 'r') then rows('running', running, true) end
  if string.find(which, 'd') then
    local entries = redis.call('LRANGE', p .. 'dead', -limit, -1)
    for i = #entries, 1, -1 do dead[#dead + 1] = entries[i] end
  end
end
return {counts, queued, running, dead}
"#;

/// ARGV: prefix, id. Returns {state, task hash (flat), queue score, running score, lease
/// alive (0/1), result, result ttl ms, dead entry}.
const SHOW_BODY: &str = r#"
local p, id = ARGV[1], ARGV[2]
local state = state_of(p, id)
local hash = redis.call('HGETALL', p .. 'task:' .. id)
local queued = redis.call('ZSCORE', p .. 'queue', id)
local running = redis.call('ZSCORE', p .. 'running', id)
local worker = redis.call('HGET', p .. 'task:' .. id, 'worker')
local alive = (worker and redis.call('EXISTS', p .. 'worker:' .. worker)) or 0
local result = redis.call('GET', p .. 'result:' .. id)
local ttl = redis.call('PTTL', p .. 'result:' .. id)
local entry = find_dead(p, id)
return {state, hash, queued, running, alive, result, ttl, entry or false}
"#;

/// ARGV: prefix, id, now, default timeout_ms, keep_ms, max_retries. Returns the state
/// the task was in; only a `dead` one was put back in the queue.
const RETRY_BODY: &str = r#"
local p, id = ARGV[1], ARGV[2]
local state = state_of(p, id)
if state == 'dead' then
  local entry, letter = find_dead(p, id)
  redis.call('LREM', p .. 'dead', 1, entry)
  revive(p, letter, ARGV[3], ARGV[4], ARGV[5], ARGV[6])
end
return state
"#;

/// ARGV: prefix, now, default timeout_ms, keep_ms, max_retries. Every dead letter goes
/// back to the queue, except entries that cannot be read or whose task id is live again
/// (kept in the list). Returns {revived ids, kept count}.
const RETRY_ALL_BODY: &str = r#"
local p = ARGV[1]
local revived, kept = {}, {}
for _, entry in ipairs(redis.call('LRANGE', p .. 'dead', 0, -1)) do
  local ok, letter = pcall(cjson.decode, entry)
  if ok and type(letter) == 'table' and type(letter.id) == 'string'
      and redis.call('EXISTS', p .. 'task:' .. letter.id) == 0 then
    revive(p, letter, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
    revived[#revived + 1] = letter.id
  else
    kept[#kept + 1] = entry
  end
end
redis.call('DEL', p .. 'dead')
for _, entry in ipairs(kept) do redis.call('RPUSH', p .. 'dead', entry) end
return {revived, #kept}
"#;

/// ARGV: prefix, id. A queued or running task is removed (a running one's worker finishes
/// the call, but its result is dropped); returns the state the task was in.
const CANCEL_BODY: &str = r#"
local p, id = ARGV[1], ARGV[2]
local state = state_of(p, id)
if state == 'queued' or state == 'running' then
  free_unique(p, id)
  redis.call('DEL', p .. 'task:' .. id)
  redis.call('ZREM', p .. 'queue', id)
  redis.call('ZREM', p .. 'running', id)
end
return state
"#;

/// ARGV: prefix. Drops the dead-letter list; returns how many letters it held.
const PURGE_DEAD_BODY: &str = r#"
local p = ARGV[1]
local n = redis.call('LLEN', p .. 'dead')
redis.call('DEL', p .. 'dead')
return n
"#;

/// ARGV: prefix, now. Returns {queued, queued and due, running, running past their
/// deadline, dead}.
const STATS_BODY: &str = r#"
local p, now = ARGV[1], ARGV[2]
return {redis.call('ZCARD', p .. 'queue'), redis.call('ZCOUNT', p .. 'queue', '-inf', now),
  redis.call('ZCARD', p .. 'running'), redis.call('ZCOUNT', p .. 'running', '-inf', now),
  redis.call('LLEN', p .. 'dead')}
"#;

/// The scripts, each with the helper functions it calls in front.
pub(super) struct AdminScripts {
    pub list: String,
    pub show: String,
    pub retry: String,
    pub retry_all: String,
    pub cancel: String,
    pub purge_dead: String,
    pub stats: String,
}

impl AdminScripts {
    pub fn new() -> AdminScripts {
        let with_state = |body: &str| format!("{FIND_DEAD_FN}{STATE_OF_FN}{body}");
        AdminScripts {
            list: LIST_BODY.into(),
            show: with_state(SHOW_BODY),
            retry: format!("{FIND_DEAD_FN}{STATE_OF_FN}{REVIVE_FN}{RETRY_BODY}"),
            retry_all: format!("{REVIVE_FN}{RETRY_ALL_BODY}"),
            cancel: format!("{FREE_UNIQUE_FN}{}", with_state(CANCEL_BODY)),
            purge_dead: PURGE_DEAD_BODY.into(),
            stats: STATS_BODY.into(),
        }
    }
}
