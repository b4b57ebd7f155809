//! The blocked-thread watchdog against the real interpreter and the plain hub: a job that
//! blocks past the threshold is observed with its length; an idle hub and short jobs are not.
//!
//! Needs a Python environment with `greenlet` (VIRTUAL_ENV, as `cargo xtask test` sets).

use std::sync::Mutex;
use std::time::Duration;

use puff_greenlet::watchdog::{self, Watchdog};
use puff_greenlet::{InterpreterConfig, PythonRuntime, Resources, RuntimeStart};

static BLOCKS: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

fn record(held: Duration) {
    BLOCKS.lock().unwrap().push(held);
}

fn blocks() -> Vec<Duration> {
    BLOCKS.lock().unwrap().clone()
}

fn run_python(runtime: &PythonRuntime, code: &'static std::ffi::CStr) {
    runtime
        .tokio()
        .block_on(runtime.run(move |py| py.run(code, None, None)))
        .expect("the Python code runs");
}

#[test]
fn blocks_past_the_threshold_are_observed_and_idle_time_is_not() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runtime = PythonRuntime::start(RuntimeStart {
        interpreter: InterpreterConfig {
            program_name: "watchdog-test".into(),
            ..Default::default()
        },
        tokio: tokio.handle().clone(),
        setup: Vec::new(),
        global_state: None,
        resources: Resources::new(),
        asyncio: false,
    })
    .expect("the Python runtime starts (is VIRTUAL_ENV set to a venv with greenlet?)");
    assert!(watchdog::set_blocked_observer(record));
    let threshold = Duration::from_millis(50);
    let dog = Watchdog::start(&runtime, threshold).expect("the watchdog starts");

    // Not armed yet: a block is not reported.
    run_python(&runtime, c"import time; time.sleep(0.2)");
    watchdog::arm();

    // An idle hub and short jobs are not blocks.
    std::thread::sleep(Duration::from_millis(400));
    for _ in 0..20 {
        run_python(&runtime, c"import time; time.sleep(0.002)");
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(blocks(), Vec::<Duration>::new());

    // A blocking sleep, then a CPU loop (which gives the GIL up at the switch interval).
    run_python(&runtime, c"import time; time.sleep(0.3)");
    run_python(
        &runtime,
        c"import time\nend = time.monotonic() + 0.3\nwhile time.monotonic() < end: pass",
    );
    // The watchdog sees each end at its next sample.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while blocks().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = blocks();
    assert_eq!(seen.len(), 2, "{seen:?}");
    // Sampled every threshold / 4: each 300 ms block measures at least 300 ms less a tick.
    for held in &seen {
        assert!(*held >= Duration::from_millis(250), "{seen:?}");
    }

    drop(dog);
    run_python(&runtime, c"import time; time.sleep(0.2)");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(blocks().len(), 2, "a stopped watchdog observes nothing");
    runtime.shutdown_and_wait(Duration::from_secs(5));
}
