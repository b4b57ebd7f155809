//! Costs of crossing between Tokio and greenlets, on the real interpreter:
//! - `run`: async Rust -> job in a pooled greenlet -> result back (one round trip),
//! - `wait_for/ready`: a Python call on an already-ready future (never leaves the thread),
//! - `wait_for/parked`: spawn a greenlet and `join()` it from another (park, resume),
//! - `wait_for/parked_x100`: the same spread over 100 concurrent greenlets.
//!
//! Run with `cargo xtask bench bridge` (or `cargo bench -p puff-greenlet`, VIRTUAL_ENV set).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::PyDict;
/// The bridge tests run the hub in asyncio mode, so coroutine tests can share the runtime
/// (greenlets behave the same in both modes; puff-cli's suites cover the plain hub).
const ASYNCIO: bool = false;

use puff_greenlet::{InterpreterConfig, PythonRuntime, Resources, RuntimeStart};

const PY_LOOPS: &std::ffi::CStr = c"
import puff._native as n

def ready(count):
    for _ in range(count):
        n.wrap_async(lambda ret: ret(1))

def parked(count):
    # join() parks this greenlet until the spawned one has run: a real park + resume.
    for _ in range(count):
        n.spawn(int, ()).join()

def parked_spread(count, width=100):
    per = max(1, count // width)
    handles = [n.spawn(parked, (per,)) for _ in range(width)]
    for h in handles:
        h.join()
";

fn timed_python(runtime: &PythonRuntime, function: &'static str, iters: u64) -> Duration {
    let rt = runtime.tokio().clone();
    let started = Instant::now();
    rt.block_on(runtime.run(move |py| {
        let globals = PyDict::new(py);
        py.run(PY_LOOPS, Some(&globals), None)?;
        globals
            .get_item(function)?
            .expect("defined above")
            .call1((iters,))?;
        Ok(())
    }))
    .expect("python loop runs");
    started.elapsed()
}

fn bridge(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let runtime = PythonRuntime::start(RuntimeStart {
        interpreter: InterpreterConfig {
            program_name: "bridge-bench".into(),
            ..Default::default()
        },
        tokio: tokio.handle().clone(),
        setup: Vec::new(),
        global_state: None,
        resources: Resources::new(),
        asyncio: ASYNCIO,
    })
    .expect("runtime starts (VIRTUAL_ENV with greenlet?)");

    let mut group = c.benchmark_group("bridge");
    group.bench_function("run", |b| {
        b.to_async(&tokio)
            .iter(|| async { runtime.run(|_py| Ok(1u32)).await.expect("job runs") })
    });
    group.bench_function("wait_for/ready", |b| {
        b.iter_custom(|iters| timed_python(&runtime, "ready", iters))
    });
    group.bench_function("wait_for/parked", |b| {
        b.iter_custom(|iters| timed_python(&runtime, "parked", iters))
    });
    group.bench_function("wait_for/parked_x100", |b| {
        b.iter_custom(|iters| timed_python(&runtime, "parked_spread", iters))
    });
    group.finish();
}

criterion_group!(benches, bridge);
criterion_main!(benches);
