//! The ASGI lifespan protocol around serving: [`Lifespan::startup`] before the first
//! request, [`Lifespan::shutdown`] after the last (driven by `puff._asgi_helpers.Lifespan`).

use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::PyDict;
use puff_greenlet::{PuffError, PuffResult, PythonRuntime};

use super::helpers::helpers;

/// The app's lifespan protocol, started before serving and finished after.
pub struct Lifespan {
    runtime: PythonRuntime,
    lifespan: Py<PyAny>,
}

impl Lifespan {
    /// Send `lifespan.startup` and wait for the app (apps without lifespan are fine).
    /// Also returns the `scope["state"]` dict the app filled in.
    pub async fn startup(
        runtime: &PythonRuntime,
        app: Arc<Py<PyAny>>,
    ) -> PuffResult<(Lifespan, Py<PyDict>)> {
        let (lifespan, state) = runtime
            .run(move |py| {
                let run_coroutine = py.import("puff._native")?.getattr("run_coroutine")?;
                // Lifespan.__init__ needs the running loop: build it on the loop.
                let new_lifespan = helpers(py)?.getattr("new_lifespan")?;
                let lifespan = run_coroutine.call1((new_lifespan.call1((app.bind(py),))?,))?;
                let supported = run_coroutine.call1((lifespan.call_method0("startup")?,))?;
                if !supported.is_truthy()? {
                    tracing::debug!("the ASGI app does not use the lifespan protocol");
                }
                let state = lifespan.getattr("state")?.cast_into::<PyDict>()?.unbind();
                Ok((lifespan.unbind(), state))
            })
            .await
            .map_err(|e| match e {
                PuffError::Python(e) => PuffError::Other(format!(
                    "ASGI lifespan startup failed:\n{}",
                    e.traceback().trim_end()
                )),
                other => other,
            })?;
        Ok((
            Lifespan {
                runtime: runtime.clone(),
                lifespan,
            },
            state,
        ))
    }

    /// Send `lifespan.shutdown` and wait for the app to finish it.
    pub async fn shutdown(self) -> PuffResult<()> {
        let lifespan = self.lifespan;
        self.runtime
            .run(move |py| {
                let run_coroutine = py.import("puff._native")?.getattr("run_coroutine")?;
                run_coroutine.call1((lifespan.bind(py).call_method0("shutdown")?,))?;
                Ok(())
            })
            .await
    }
}
