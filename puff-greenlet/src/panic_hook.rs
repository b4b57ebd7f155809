//! Panic reports from the Python thread, printed without a backtrace.
//!
//! Greenlets run on stacks that `greenlet` copies and switches by hand, with no unwind
//! tables linking them to the thread's own stack. Rust's default hook, with
//! `RUST_BACKTRACE` set, walks the whole stack to print a backtrace and can fault past a
//! greenlet's first frame, turning a panic Puff would contain (and raise as
//! `PanicException`) into a SIGSEGV of the whole process. Unwinding itself is safe: it stops
//! at the `catch_unwind` in the same greenlet. So on the Python thread the hook prints the
//! message and location only; every other thread keeps the previous hook.

use std::panic::{self, PanicHookInfo};
use std::sync::Once;

use crate::error::panic_message;
use crate::runtime::GLOBAL_RUNTIME;

/// Wraps the current panic hook once per process; later calls do nothing.
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if on_python_thread() {
                report_without_backtrace(info);
            } else {
                previous(info);
            }
        }));
    });
}

fn on_python_thread() -> bool {
    GLOBAL_RUNTIME
        .get()
        .is_some_and(|runtime| runtime.is_python_thread())
}

fn report_without_backtrace(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "an unknown location".into());
    eprintln!(
        "thread 'puff-python' panicked at {location}:\n{}\nnote: no backtrace is printed on \
         the Python thread, whose greenlet stacks cannot be walked safely",
        panic_message(info.payload())
    );
}
