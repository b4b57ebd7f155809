//! `puff._native.pubsub`: the native half of `puff.pubsub`. Waiting calls (`publish`,
//! `subscribe`, `receive`) park the calling greenlet, or return an awaitable when called
//! from a coroutine on Puff's event loop.

use std::sync::Arc;
use std::time::Duration;

use puff_greenlet::PythonRuntime;
use puff_greenlet::aio::wait_or_await;
use puff_redis::python::to_pyerr;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::client::{PubSubClient, PubSubConnection, PubSubMessage};

/// `str` (UTF-8) or bytes-like message bodies.
fn body_bytes(message: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = message.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    if let Ok(b) = message.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    message.extract::<Vec<u8>>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "a pub/sub message must be str or bytes, not {}",
            message
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

fn true_obj(py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, true)
        .to_owned()
        .into_any()
        .unbind())
}

/// One received message.
#[pyclass(module = "puff._native.pubsub", name = "PubSubMessage", frozen)]
pub struct PyPubSubMessage {
    message: Arc<PubSubMessage>,
}

#[pymethods]
impl PyPubSubMessage {
    #[getter]
    fn channel(&self) -> &str {
        &self.message.channel
    }

    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.message.body)
    }

    /// The body as text (UTF-8; invalid bytes become U+FFFD).
    #[getter]
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.message.body).into_owned()
    }

    #[getter(from_connection_id)]
    fn sender_connection_id(&self) -> &str {
        &self.message.from_connection_id
    }

    fn __repr__(&self) -> String {
        format!(
            "<PubSubMessage channel={:?} from={:?} {} bytes>",
            self.message.channel,
            self.message.from_connection_id,
            self.message.body.len()
        )
    }
}

/// A subscriber connection.
#[pyclass(
    module = "puff._native.pubsub",
    name = "NativePubSubConnection",
    frozen
)]
pub struct PyPubSubConnection {
    conn: Arc<PubSubConnection>,
}

#[pymethods]
impl PyPubSubConnection {
    #[getter]
    fn connection_id(&self) -> &str {
        self.conn.connection_id()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.conn.is_closed()
    }

    fn subscribe(&self, py: Python<'_>, channel: String) -> PyResult<Py<PyAny>> {
        let conn = self.conn.clone();
        wait_or_await(
            py,
            async move { conn.subscribe(&channel).await },
            Box::new(|py, ()| true_obj(py)),
        )
    }

    fn unsubscribe(&self, py: Python<'_>, channel: String) -> PyResult<Py<PyAny>> {
        let conn = self.conn.clone();
        wait_or_await(
            py,
            async move { conn.unsubscribe(&channel).await },
            Box::new(|py, ()| true_obj(py)),
        )
    }

    /// The next message; `None` after `timeout_ms` or once closed.
    #[pyo3(signature = (timeout_ms = None))]
    fn receive(&self, py: Python<'_>, timeout_ms: Option<u64>) -> PyResult<Py<PyAny>> {
        let conn = self.conn.clone();
        wait_or_await(
            py,
            async move {
                match timeout_ms {
                    Some(ms) => tokio::time::timeout(Duration::from_millis(ms), conn.receive())
                        .await
                        .ok()
                        .flatten(),
                    None => conn.receive().await,
                }
            },
            Box::new(|py, message| match message {
                Some(message) => Ok(Py::new(py, PyPubSubMessage { message })?.into_any()),
                None => Ok(py.None()),
            }),
        )
    }

    /// Publish on `channel` as this connection.
    fn publish(
        &self,
        py: Python<'_>,
        channel: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let body = body_bytes(message)?;
        let conn = self.conn.clone();
        wait_or_await(
            py,
            async move { conn.publish(&channel, &body).await },
            Box::new(|py, r| r.map_err(to_pyerr).and_then(|()| true_obj(py))),
        )
    }

    fn close(&self) {
        self.conn.close();
    }

    fn __repr__(&self) -> String {
        format!("<PubSubConnection {}>", self.conn.connection_id())
    }
}

/// A named pub/sub instance.
#[pyclass(module = "puff._native.pubsub", name = "NativePubSub", frozen)]
pub struct PyPubSub {
    client: PubSubClient,
}

#[pymethods]
impl PyPubSub {
    #[getter]
    fn name(&self) -> &str {
        self.client.name()
    }

    /// `"redis"` or `"memory"`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.client.backend_name()
    }

    fn new_connection_id(&self) -> String {
        self.client.new_connection_id()
    }

    fn connection(&self) -> PyResult<PyPubSubConnection> {
        self.client.check_shared().map_err(to_pyerr)?;
        Ok(PyPubSubConnection {
            conn: Arc::new(self.client.connection()),
        })
    }

    fn connection_with_id(&self, connection_id: String) -> PyResult<PyPubSubConnection> {
        self.client.check_shared().map_err(to_pyerr)?;
        Ok(PyPubSubConnection {
            conn: Arc::new(self.client.connection_with_id(connection_id)),
        })
    }

    /// Publish with an empty sender id; True once Redis (or the process) took it.
    fn publish(
        &self,
        py: Python<'_>,
        channel: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.publish_as(py, String::new(), channel, message)
    }

    /// Publish as the connection `connection_id`.
    fn publish_as(
        &self,
        py: Python<'_>,
        connection_id: String,
        channel: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let body = body_bytes(message)?;
        let client = self.client.clone();
        wait_or_await(
            py,
            async move { client.publish_as(&connection_id, &channel, &body).await },
            Box::new(|py, r| r.map_err(to_pyerr).and_then(|()| true_obj(py))),
        )
    }

    fn __repr__(&self) -> String {
        match self.client.redacted_url() {
            Some(url) => format!("<puff.pubsub `{}` on {url}>", self.client.name()),
            None => format!("<puff.pubsub `{}` in process>", self.client.name()),
        }
    }
}

/// The instance named `name`.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn client(name: &str) -> PyResult<PyPubSub> {
    let runtime = PythonRuntime::global()?;
    match runtime.resources().get::<PubSubClient>(name) {
        Some(client) => Ok(PyPubSub {
            client: (*client).clone(),
        }),
        None => Err(puff_redis::python::RedisError::new_err(format!(
            "no pub/sub instance named `{name}` (configured: {}); add a [[pubsub]] entry with \
             name = \"{name}\" to puff.toml",
            names()?.join(", ")
        ))),
    }
}

/// Names of the configured instances.
#[pyfunction]
fn names() -> PyResult<Vec<String>> {
    Ok(PythonRuntime::global()?.resources().names::<PubSubClient>())
}

pub(crate) fn add_module(py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(py, "pubsub")?;
    m.add_class::<PyPubSub>()?;
    m.add_class::<PyPubSubConnection>()?;
    m.add_class::<PyPubSubMessage>()?;
    m.add_function(wrap_pyfunction!(client, &m)?)?;
    m.add_function(wrap_pyfunction!(names, &m)?)?;
    native.add_submodule(&m)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("puff._native.pubsub", &m)?;
    Ok(())
}
