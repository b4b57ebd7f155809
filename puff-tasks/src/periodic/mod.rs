//! Periodic tasks: `[[task_queue.periodic]]` entries and `TaskQueue.add_periodic` from
//! Python. Every process with the queue runs a scheduler for each schedule; a tick is
//! claimed in the backend by one atomic compare-and-set of the schedule's last fired tick
//! that also enqueues the tick's task under an id derived from the schedule and the tick,
//! so it runs once however many processes race for it or restart. Missed ticks follow
//! `catch_up`.

mod claim;
pub mod cron;
pub(crate) mod python;
mod scheduler;

use puff_greenlet::ConfigError;
use serde::Deserialize;
use sha1::Digest;

pub(crate) use scheduler::Registry;

/// Default `catch_up_max`: ticks run after an outage with `catch_up = "all"`.
pub const DEFAULT_CATCH_UP_MAX: u32 = 100;
/// Default `grace_ms`: a tick fired this late still counts as on time.
pub const DEFAULT_GRACE_MS: u64 = 2000;

/// What happens to ticks no process fired in time (all of them were down).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Missed ticks are dropped (counted in `puff_task_periodic_missed_total`).
    #[default]
    Skip,
    /// One run stands for all the missed ticks (the newest), unless a tick on time runs.
    Once,
    /// Each missed tick runs, the newest `catch_up_max` of them.
    All,
}

impl CatchUp {
    pub fn parse(text: &str) -> Result<CatchUp, String> {
        match text {
            "skip" => Ok(CatchUp::Skip),
            "once" => Ok(CatchUp::Once),
            "all" => Ok(CatchUp::All),
            other => Err(format!(
                "`{other}` is not one of \"skip\", \"once\", \"all\""
            )),
        }
    }
}

/// One `[[task_queue.periodic]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeriodicConfig {
    /// `module:function`, as `schedule_function` stores it.
    pub function: String,
    /// A cron expression: 5 fields, or 6 with seconds first (exclusive with `every_ms`).
    #[serde(default)]
    pub cron: Option<String>,
    /// A fixed interval: ticks at multiples of it since the unix epoch.
    #[serde(default)]
    pub every_ms: Option<u64>,
    /// The payload of every run (any TOML value, sent as JSON; default none).
    #[serde(default)]
    pub payload: Option<toml::Value>,
    /// The IANA time zone of `cron` (default UTC).
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default = "default_catch_up_max")]
    pub catch_up_max: u32,
    /// How late a tick may fire and still count as on time.
    #[serde(default = "default_grace_ms")]
    pub grace_ms: u64,
    /// The schedule's identity across processes (default: function and schedule).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub keep_results_for_ms: Option<u64>,
    #[serde(default)]
    pub max_retries: Option<u32>,
}

fn default_catch_up_max() -> u32 {
    DEFAULT_CATCH_UP_MAX
}
fn default_grace_ms() -> u64 {
    DEFAULT_GRACE_MS
}

/// When a schedule ticks.
#[derive(Clone, Debug)]
pub enum Timing {
    Every(u64),
    Cron(Box<cron::Cron>),
}

impl Timing {
    /// The first tick strictly after `after_ms`.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        match self {
            Timing::Every(every) => (after_ms / every + 1).checked_mul(*every),
            Timing::Cron(c) => c.next_after(after_ms),
        }
    }
}

/// A validated schedule, ready to run.
#[derive(Clone, Debug)]
pub struct Periodic {
    pub name: String,
    pub function: String,
    /// JSON text.
    pub payload: String,
    pub timing: Timing,
    pub catch_up: CatchUp,
    pub catch_up_max: u32,
    pub grace_ms: u64,
    pub timeout_ms: u64,
    pub keep_results_for_ms: u64,
    pub max_retries: Option<u32>,
}

impl PeriodicConfig {
    /// A schedule for `function` with defaults (set `cron` or `every_ms`).
    pub fn new(function: impl Into<String>) -> PeriodicConfig {
        PeriodicConfig {
            function: function.into(),
            cron: None,
            every_ms: None,
            payload: None,
            tz: None,
            catch_up: CatchUp::Skip,
            catch_up_max: DEFAULT_CATCH_UP_MAX,
            grace_ms: DEFAULT_GRACE_MS,
            name: None,
            timeout_ms: None,
            keep_results_for_ms: None,
            max_retries: None,
        }
    }

    /// The default name: the function and its schedule.
    pub fn effective_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match (&self.cron, self.every_ms) {
            (Some(cron), _) => format!(
                "{} cron {} {}",
                self.function,
                cron.split_whitespace().collect::<Vec<_>>().join(" "),
                self.tz.as_deref().unwrap_or("UTC")
            ),
            (None, Some(every)) => format!("{} every {every} ms", self.function),
            (None, None) => self.function.clone(),
        }
    }

    /// Check every key; errors name the key.
    pub fn validate(&self) -> Result<Periodic, ConfigError> {
        let (module, function) = self.function.split_once(':').unwrap_or(("", ""));
        if module.is_empty() || function.is_empty() {
            return Err(ConfigError::new(
                "function",
                format!(
                    "`{}` is not a `module:function` path (e.g. \"myapp.jobs:cleanup\")",
                    self.function
                ),
            ));
        }
        let timing = match (&self.cron, self.every_ms) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "cron",
                    "set either `cron` or `every_ms`, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "cron",
                    "set `cron` (e.g. \"0 3 * * *\") or `every_ms`",
                ));
            }
            (None, Some(every)) => {
                if every == 0 {
                    return Err(ConfigError::new("every_ms", "must be at least 1"));
                }
                if self.tz.is_some() {
                    return Err(ConfigError::new(
                        "tz",
                        "applies to `cron` only (`every_ms` ticks at multiples of it since \
                         the unix epoch)",
                    ));
                }
                Timing::Every(every)
            }
            (Some(expression), None) => {
                let tz = cron::time_zone(self.tz.as_deref().unwrap_or("UTC"))
                    .map_err(|e| ConfigError::new("tz", e))?;
                let parsed =
                    cron::Cron::parse(expression, tz).map_err(|e| ConfigError::new("cron", e))?;
                Timing::Cron(Box::new(parsed))
            }
        };
        if self.catch_up_max == 0 {
            return Err(ConfigError::new("catch_up_max", "must be at least 1"));
        }
        if self.keep_results_for_ms == Some(0) {
            return Err(ConfigError::new(
                "keep_results_for_ms",
                "must be at least 1",
            ));
        }
        let name = self.effective_name();
        if name.is_empty() {
            return Err(ConfigError::new("name", "must not be empty"));
        }
        let payload = match &self.payload {
            None => "null".to_owned(),
            Some(value) => serde_json::to_string(value)
                .map_err(|e| ConfigError::new("payload", format!("not JSON-able: {e}")))?,
        };
        Ok(Periodic {
            name,
            function: self.function.clone(),
            payload,
            timing,
            catch_up: self.catch_up,
            catch_up_max: self.catch_up_max,
            grace_ms: self.grace_ms,
            timeout_ms: self
                .timeout_ms
                .unwrap_or(crate::task::DEFAULT_TIMEOUT_MS)
                .max(1),
            keep_results_for_ms: self
                .keep_results_for_ms
                .unwrap_or(crate::task::DEFAULT_KEEP_RESULTS_FOR_MS),
            max_retries: self.max_retries,
        })
    }
}

/// Check a queue's `periodic` entries (errors name the entry and the key); names must be
/// unique within the queue.
pub fn validate_all(entries: &[PeriodicConfig]) -> Result<Vec<Periodic>, ConfigError> {
    let mut out: Vec<Periodic> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let key = format!("periodic[{i}]");
        let schedule = entry.validate().map_err(|e| e.inside(key.as_str()))?;
        if out.iter().any(|p| p.name == schedule.name) {
            return Err(ConfigError::new(
                key,
                format!(
                    "a schedule named `{}` is declared twice; give one a distinct `name`",
                    schedule.name
                ),
            ));
        }
        out.push(schedule);
    }
    Ok(out)
}

/// Start the queue's `[[task_queue.periodic]]` schedules in this process (every process
/// with the queue runs them, `max_concurrent_tasks = 0` ones too). An in-process queue
/// refused under `--workers N` runs none (its refusal was logged at start).
pub(crate) fn start_configured(queue: &crate::TaskQueue) {
    for entry in &queue.config().periodic {
        let started = entry
            .validate()
            .map_err(|e| e.to_string())
            .and_then(|schedule| queue.add_periodic(schedule).map_err(|e| e.to_string()));
        if let Err(e) = started {
            tracing::warn!(
                "task queue `{}`: periodic `{}` not started: {e}",
                queue.name(),
                entry.effective_name()
            );
        }
    }
}

/// The id of the task of `schedule`'s tick at `tick_ms` on queue `queue`: the tick as 12
/// hex digits (so ids sort by tick like other ids by time), `p`, then 13 hex digits of
/// the schedule's hash. The same in every process, so a tick can only be enqueued once.
pub fn tick_task_id(queue: &str, schedule: &str, tick_ms: u64) -> String {
    let digest = sha1::Sha1::digest(format!("{queue}\0{schedule}").as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tick_ms:012x}p{}", &hash[..13])
}

/// The tick of a periodic task's id (`None` for other ids).
pub fn tick_of_task_id(id: &str) -> Option<u64> {
    if id.len() != 26 || id.as_bytes().get(12) != Some(&b'p') {
        return None;
    }
    u64::from_str_radix(id.get(..12)?, 16).ok()
}

/// Which ticks to run when a scheduler wakes at `now`, the stored last fired tick being
/// `last` (`None`: the schedule never fired).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Ticks to enqueue, oldest first.
    pub run: Vec<u64>,
    /// Ticks dropped by `catch_up` (not counted past [`SCAN_LIMIT`]).
    pub missed: u64,
    /// The newest tick at or before `now`: the stored last tick afterwards.
    pub newest: Option<u64>,
}

/// How many ticks one plan looks at, at most; beyond it the oldest are not counted.
const SCAN_LIMIT: u64 = 1_000_000;

impl Periodic {
    /// Pending ticks are those after `last` up to `now`; with no `last`, the newest tick
    /// if it is within `grace_ms` of `now` (a new schedule never backfills). Ticks within
    /// `grace_ms` of `now` run; older ones are late and follow `catch_up`.
    pub fn plan(&self, last: Option<u64>, now: u64) -> Plan {
        let on_time_from = now.saturating_sub(self.grace_ms);
        // Exclusive lower bound of the pending ticks.
        let mut from = match last {
            Some(last) => last,
            None => on_time_from.saturating_sub(1),
        };
        let mut plan = Plan::default();
        if let Timing::Every(every) = self.timing {
            // Skip the late ticks arithmetically, keeping the newest that may still run.
            let late_end = on_time_from.saturating_sub(1) / every * every;
            let keep = match self.catch_up {
                CatchUp::Skip => 0,
                CatchUp::Once => 1,
                CatchUp::All => u64::from(self.catch_up_max),
            };
            let skip_to = late_end.saturating_sub(keep * every);
            if skip_to > from {
                // Ticks in (from, skip_to]; `from` need not be a tick (a changed schedule).
                plan.missed = skip_to / every - from / every;
                plan.newest = Some(skip_to).filter(|_| plan.missed > 0);
                from = skip_to;
            }
        }
        let mut late: std::collections::VecDeque<u64> = Default::default();
        let mut scanned = 0u64;
        let mut at = from;
        while let Some(tick) = self.timing.next_after(at) {
            if tick > now || scanned >= SCAN_LIMIT {
                break;
            }
            scanned += 1;
            at = tick;
            plan.newest = Some(tick);
            if tick >= on_time_from {
                plan.run.push(tick);
                continue;
            }
            late.push_back(tick);
            let keep = match self.catch_up {
                CatchUp::Skip => 0,
                CatchUp::Once => 1,
                CatchUp::All => self.catch_up_max as usize,
            };
            while late.len() > keep {
                late.pop_front();
                plan.missed += 1;
            }
        }
        if self.catch_up == CatchUp::Once && !plan.run.is_empty() && !late.is_empty() {
            // The run on time stands for the missed ones.
            plan.missed += late.len() as u64;
            late.clear();
        }
        if last.is_none() {
            // A new schedule starts with the newest tick (if on time), not a burst.
            plan.run.drain(..plan.run.len().saturating_sub(1));
        }
        let mut run: Vec<u64> = late.into_iter().collect();
        run.append(&mut plan.run);
        plan.run = run;
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(ms: u64, catch_up: CatchUp) -> Periodic {
        let mut c = PeriodicConfig::new("m:f");
        c.every_ms = Some(ms);
        c.catch_up = catch_up;
        c.catch_up_max = 3;
        c.grace_ms = 1500;
        c.validate().unwrap()
    }

    #[test]
    fn plans_follow_catch_up() {
        let skip = every(1000, CatchUp::Skip);
        // A new schedule: the newest tick within grace_ms only.
        let new = skip.plan(None, 10_200);
        assert_eq!(new.run, [10_000]);
        assert_eq!(skip.plan(None, 13_499).run, [13_000]);
        assert_eq!((new.missed, new.newest), (0, Some(10_000)));
        // Up to date: nothing.
        assert_eq!(skip.plan(Some(10_000), 10_999).run, Vec::<u64>::new());
        assert_eq!(skip.plan(Some(10_000), 11_000).run, [11_000]);
        // Down from 10 s to 20.2 s: 11..18 are late (8 ticks), 19 and 20 on time.
        let after_gap = skip.plan(Some(10_000), 20_200);
        assert_eq!(after_gap.run, [19_000, 20_000]);
        assert_eq!((after_gap.missed, after_gap.newest), (8, Some(20_000)));
        let once = every(1000, CatchUp::Once).plan(Some(10_000), 20_200);
        assert_eq!((once.run, once.missed), (vec![19_000, 20_000], 8));
        // No tick on time (the scheduler woke late): once runs the newest late one.
        let once = every(1000, CatchUp::Once).plan(Some(10_000), 20_999 + 2000);
        assert_eq!(
            (once.run, once.missed),
            (vec![22_000], 11),
            "21 is past grace"
        );
        let mut once_cfg = PeriodicConfig::new("m:f");
        once_cfg.every_ms = Some(1000);
        once_cfg.catch_up = CatchUp::Once;
        once_cfg.grace_ms = 0;
        let once = once_cfg.validate().unwrap().plan(Some(10_000), 20_500);
        assert_eq!((once.run, once.missed), (vec![20_000], 9));
        let all = every(1000, CatchUp::All).plan(Some(10_000), 20_200);
        assert_eq!(all.run, [16_000, 17_000, 18_000, 19_000, 20_000]);
        assert_eq!(all.missed, 5);
        // A last tick off the grid (the interval changed): 11..16 dropped.
        let off_grid = every(1000, CatchUp::Skip).plan(Some(10_500), 17_600);
        assert_eq!((off_grid.run, off_grid.missed), (vec![17_000], 6));
        // A year-long gap is arithmetic.
        let year = 365 * 86_400_000;
        let long = every(1000, CatchUp::All).plan(Some(0), year + 200);
        assert_eq!(long.run.len(), 5);
        assert_eq!(long.missed, year / 1000 - 5);
    }

    #[test]
    fn cron_plans_and_validation_errors() {
        let mut c = PeriodicConfig::new("m:f");
        c.cron = Some("*/10 * * * * *".into());
        c.catch_up = CatchUp::All;
        c.catch_up_max = 2;
        let p = c.validate().unwrap();
        assert_eq!(p.name, "m:f cron */10 * * * * * UTC");
        let plan = p.plan(Some(0), 60_500);
        assert_eq!(plan.run, [40_000, 50_000, 60_000]);
        assert_eq!((plan.missed, plan.newest), (3, Some(60_000)));

        let err = |toml_text: &str| -> String {
            let c: PeriodicConfig = toml::from_str(toml_text).unwrap();
            let e = validate_all(&[c]).unwrap_err();
            e.to_string()
        };
        assert_eq!(
            err("function = \"m:f\"\ncron = \"0 99 * * *\""),
            "`periodic[0]`: `cron`: hour field `99`: 99 is out of range 0-23"
        );
        assert!(
            err("function = \"m:f\"\ncron = \"0 * * * *\"\ntz = \"Europe/Nowhere\"")
                .starts_with("`periodic[0]`: `tz`: unknown time zone `Europe/Nowhere`")
        );
        assert_eq!(
            err("function = \"m:f\"\ncron = \"0 * * * *\"\nevery_ms = 5"),
            "`periodic[0]`: `cron`: set either `cron` or `every_ms`, not both"
        );
        assert!(err("function = \"m:f\"").contains("set `cron`"));
        assert!(err("function = \"nocolon\"\nevery_ms = 5").contains("`function`"));
        assert!(err("function = \"m:f\"\nevery_ms = 5\ntz = \"UTC\"").contains("`tz`"));
        assert!(
            toml::from_str::<PeriodicConfig>("function = \"m:f\"\ncatch_up = \"some\"").is_err()
        );
        assert!(toml::from_str::<PeriodicConfig>("function = \"m:f\"\nevery = 1").is_err());
        let twice: Vec<PeriodicConfig> = (0..2)
            .map(|_| toml::from_str("function = \"m:f\"\nevery_ms = 5").unwrap())
            .collect();
        assert!(
            validate_all(&twice)
                .unwrap_err()
                .to_string()
                .contains("declared twice")
        );
    }

    #[test]
    fn nested_in_puff_toml() {
        let table: toml::Table = toml::from_str(
            r#"
            [[task_queue]]
            name = "jobs"
            [[task_queue.periodic]]
            function = "app.jobs:report"
            cron = "0 30 2 * * *"
            tz = "America/New_York"
            payload = { format = "pdf", pages = [1, 2] }
            catch_up = "all"
            catch_up_max = 5
            "#,
        )
        .unwrap();
        let queues = crate::TasksSubsystem::parse(&table["task_queue"]).unwrap();
        let p = queues[0].periodic[0].validate().unwrap();
        assert_eq!(p.payload, r#"{"format":"pdf","pages":[1,2]}"#);
        assert_eq!((p.catch_up, p.catch_up_max), (CatchUp::All, 5));
        let table: toml::Table = toml::from_str(
            "[[task_queue]]\n[[task_queue.periodic]]\nfunction = \"m:f\"\nevery_ms = 0",
        )
        .unwrap();
        let err = crate::TasksSubsystem::parse(&table["task_queue"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`task_queue[0]`: `periodic[0]`: `every_ms`: must be at least 1"
        );
        assert_eq!(queues[0].periodic.len(), 1);
        let p = PeriodicConfig::new("m:f");
        assert_eq!(p.validate().unwrap_err().key.as_deref(), Some("cron"));
    }

    #[test]
    fn tick_ids_are_stable_and_readable() {
        let id = tick_task_id("default", "nightly", 1_700_000_000_000);
        assert_eq!(id.len(), 26);
        assert_eq!(id, tick_task_id("default", "nightly", 1_700_000_000_000));
        assert_ne!(id, tick_task_id("other", "nightly", 1_700_000_000_000));
        assert_eq!(tick_of_task_id(&id), Some(1_700_000_000_000));
        assert_eq!(tick_of_task_id(&crate::task::new_task_id()), None);
    }
}
