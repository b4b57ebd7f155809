//! What the watchdog logs (target `puff::watchdog`): the warning with the Python stack of a
//! block, read while it still blocks, and the block's total length when it ends.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Frames shown, innermost first kept; deeper stacks say how many outer frames were left out.
const MAX_FRAMES: usize = 40;

/// Warn that the Python thread has been held since `since`, with its current stack.
/// `suppressed`: blocks not reported since the previous warning (rate limit).
pub(super) fn block_warning(
    python_ident: u64,
    since: Instant,
    threshold: Duration,
    suppressed: u64,
) {
    let stack = if python_ident == 0 {
        Err("the Python thread's id is not known yet".to_owned())
    } else {
        // A thread blocked in a call has released the GIL; a CPU loop yields it at the
        // switch interval (5 ms by default).
        Python::attach(|py| python_stack(py, python_ident).map_err(|e| e.to_string()))
    };
    let held = since.elapsed();
    let stack = match stack {
        Ok(lines) => lines.join("\n"),
        Err(e) => format!("  (stack unavailable: {e})"),
    };
    let unreported = match suppressed {
        0 => String::new(),
        n => format!(" ({n} earlier blocks in the last second were not reported)"),
    };
    tracing::warn!(
        target: "puff::watchdog",
        "the Python thread has been held for {} ms without yielding (block_warn_ms = {}); no \
         other request, task or coroutine runs meanwhile{unreported}. Run blocking calls with \
         @puff.blocking and sleep with puff.sleep_ms. Python stack, innermost last:\n{stack}",
        held.as_millis(),
        threshold.as_millis(),
    );
}

/// A block that was past the threshold has ended after `held` in all.
pub(super) fn block_ended(held: Duration, warned: bool) {
    if warned {
        tracing::info!(
            target: "puff::watchdog",
            "the Python thread was held for {} ms in all",
            held.as_millis()
        );
    }
}

/// The stack of the Python thread `ident` as `  file:line:function` lines, innermost last.
fn python_stack(py: Python<'_>, ident: u64) -> PyResult<Vec<String>> {
    let frames = py.import("sys")?.call_method0("_current_frames")?;
    let Some(mut frame) = frames.get_item(ident).ok().filter(|f| !f.is_none()) else {
        return Ok(vec!["  (the Python thread runs no Python code)".to_owned()]);
    };
    let mut lines = Vec::new();
    let mut outer = 0usize;
    loop {
        if lines.len() < MAX_FRAMES {
            let code = frame.getattr("f_code")?;
            let file: String = code.getattr("co_filename")?.extract()?;
            let function: String = code.getattr("co_name")?.extract()?;
            let line: Option<u32> = frame.getattr("f_lineno")?.extract()?;
            let line = line.map_or_else(|| "?".to_owned(), |l| l.to_string());
            lines.push(format!("  {file}:{line}:{function}"));
        } else {
            outer += 1;
        }
        let back = frame.getattr("f_back")?;
        if back.is_none() {
            break;
        }
        frame = back;
    }
    if outer > 0 {
        lines.push(format!("  ... {outer} outer frames"));
    }
    lines.reverse();
    Ok(lines)
}
