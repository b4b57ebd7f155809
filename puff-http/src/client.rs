//! `puff.http`: a pooled HTTP/1.1 and HTTP/2 client on reqwest.
//!
//! Requests run on Tokio; greenlets wait for them without blocking each other, coroutines
//! await them. JSON is encoded from Python objects and decoded into them in Rust.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use puff_greenlet::aio::{in_coroutine, resolved_future, wait_or_await};
use puff_greenlet::pyo3::create_exception;
use puff_greenlet::pyo3::exceptions::{PyTypeError, PyValueError};
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::{PyBytes, PyDict, PyString};
use puff_greenlet::{PythonRuntime, exceptions};
use serde::Deserialize;

create_exception!(
    puff.http,
    HttpError,
    exceptions::PuffIOError,
    "An HTTP request made with puff.http failed."
);
create_exception!(
    puff.http,
    ConnectError,
    HttpError,
    "The server could not be reached (refused, unreachable, DNS)."
);
create_exception!(
    puff.http,
    TimeoutError,
    HttpError,
    "The request did not complete within its timeout."
);
create_exception!(
    puff.http,
    JSONDecodeError,
    HttpError,
    "The response body is not valid JSON."
);

/// One `[[http_client]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpClientConfig {
    pub name: String,
    /// Accepted for symmetry with the other sections (`enable = true`).
    pub enable: bool,
    /// Speak HTTP/2 without negotiation (h2c), e.g. to other Puff instances.
    pub http2_prior_knowledge: bool,
    pub user_agent: Option<String>,
    /// Idle pooled connections kept per host.
    pub max_idle_connections: usize,
    /// Default whole-request timeout; none when unset.
    pub timeout_ms: Option<u64>,
    pub connect_timeout_ms: u64,
    pub pool_idle_timeout_ms: u64,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            name: "default".into(),
            enable: true,
            http2_prior_knowledge: false,
            user_agent: None,
            max_idle_connections: 32,
            timeout_ms: None,
            connect_timeout_ms: 10_000,
            pool_idle_timeout_ms: 90_000,
        }
    }
}

/// An `[[http_client]]` entry that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("http_client `{name}` is configured twice")]
    Duplicate { name: String },
    #[error("http_client `{name}`: {error}")]
    Build { name: String, error: reqwest::Error },
}

impl HttpClientConfig {
    fn build(&self) -> Result<reqwest::Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(self.max_idle_connections)
            .pool_idle_timeout(Duration::from_millis(self.pool_idle_timeout_ms))
            .connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .user_agent(
                self.user_agent
                    .clone()
                    .unwrap_or_else(|| format!("puff/{}", env!("CARGO_PKG_VERSION"))),
            );
        if self.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        if let Some(ms) = self.timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms));
        }
        builder.build().map_err(|error| ClientError::Build {
            name: self.name.clone(),
            error,
        })
    }
}

/// The named clients, built at start-up.
pub struct HttpClients {
    clients: HashMap<String, reqwest::Client>,
}

impl HttpClients {
    /// Build every configured client; a `default` one always exists.
    pub fn build(configs: &[HttpClientConfig]) -> Result<HttpClients, ClientError> {
        // rustls needs one process-wide crypto provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut clients = HashMap::new();
        for config in configs {
            if clients.contains_key(&config.name) {
                return Err(ClientError::Duplicate {
                    name: config.name.clone(),
                });
            }
            clients.insert(config.name.clone(), config.build()?);
        }
        if !clients.contains_key("default") {
            clients.insert("default".into(), HttpClientConfig::default().build()?);
        }
        Ok(HttpClients { clients })
    }

    pub fn get(&self, name: &str) -> Option<&reqwest::Client> {
        self.clients.get(name)
    }
}

/// A named client as seen from Python.
#[pyclass(module = "puff._native.http", name = "HttpClient", frozen)]
pub struct PyHttpClient {
    client: reqwest::Client,
    name: String,
}

/// A request body prepared on the Python thread.
enum Payload {
    None,
    Json(Vec<u8>),
    Bytes(Bytes, Option<&'static str>),
}

fn payload(json: Option<&Bound<'_, PyAny>>, data: Option<&Bound<'_, PyAny>>) -> PyResult<Payload> {
    match (json, data) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "pass either json= or data=, not both",
        )),
        (Some(json), None) => {
            let value = puff_greenlet::json::to_json(json, "json=")?;
            Ok(Payload::Json(serde_json::to_vec(&value).map_err(|e| {
                PyValueError::new_err(format!("json=: {e}"))
            })?))
        }
        (None, Some(data)) => {
            if let Ok(b) = data.cast::<PyBytes>() {
                Ok(Payload::Bytes(Bytes::copy_from_slice(b.as_bytes()), None))
            } else if let Ok(s) = data.cast::<PyString>() {
                Ok(Payload::Bytes(
                    Bytes::copy_from_slice(s.to_str()?.as_bytes()),
                    Some("text/plain; charset=utf-8"),
                ))
            } else if let Ok(d) = data.cast::<PyDict>() {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in d.iter() {
                    form.append_pair(&k.str()?.to_string(), &v.str()?.to_string());
                }
                Ok(Payload::Bytes(
                    Bytes::from(form.finish()),
                    Some("application/x-www-form-urlencoded"),
                ))
            } else {
                Err(PyTypeError::new_err(
                    "data= must be bytes, str or a dict (form fields)",
                ))
            }
        }
        (None, None) => Ok(Payload::None),
    }
}

fn pairs(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<(String, String)>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(d) = obj.cast::<PyDict>() {
        d.iter().collect()
    } else {
        obj.try_iter()?
            .map(|item| item?.extract())
            .collect::<PyResult<_>>()
            .map_err(|_| {
                PyTypeError::new_err(format!("{what}= must be a dict or (name, value) pairs"))
            })?
    };
    items
        .into_iter()
        .map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string())))
        .collect()
}

fn request_error(method: &str, url: &str, e: reqwest::Error) -> PyErr {
    let text = format!("{method} {url}: {e}");
    let text = match std::error::Error::source(&e) {
        Some(source) => format!("{text} ({source})"),
        None => text,
    };
    if e.is_timeout() {
        TimeoutError::new_err(text)
    } else if e.is_connect() {
        ConnectError::new_err(text)
    } else {
        HttpError::new_err(text)
    }
}

#[pymethods]
impl PyHttpClient {
    /// `request(method, url, json=None, data=None, headers=None, params=None, timeout_ms=None)`
    #[pyo3(signature = (method, url, json=None, data=None, headers=None, params=None, timeout_ms=None))]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        py: Python<'_>,
        method: &str,
        url: &str,
        json: Option<&Bound<'_, PyAny>>,
        data: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyAny>>,
        timeout_ms: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let method_parsed = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| PyValueError::new_err(format!("invalid HTTP method {method:?}")))?;
        let mut parsed = reqwest::Url::parse(url)
            .map_err(|e| PyValueError::new_err(format!("invalid URL {url:?}: {e}")))?;
        let query = pairs(params, "params")?;
        if !query.is_empty() {
            let mut q = parsed.query_pairs_mut();
            for (k, v) in &query {
                q.append_pair(k, v);
            }
        }
        let body = payload(json, data.filter(|d| !d.is_none()))?;
        let headers = pairs(headers, "headers")?;
        let mut builder = self.client.request(method_parsed, parsed);
        match body {
            Payload::None => {}
            Payload::Json(bytes) => {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes);
            }
            Payload::Bytes(bytes, content_type) => {
                if let Some(ct) = content_type {
                    builder = builder.header(reqwest::header::CONTENT_TYPE, ct);
                }
                builder = builder.body(bytes);
            }
        }
        // The called service joins this trace, unless the caller set the header itself.
        if let Some(trace) = puff_greenlet::trace::python::python_current(py)
            && !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
        {
            builder = builder.header("traceparent", trace.to_traceparent());
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(ms) = timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms));
        }
        let method = method.to_ascii_uppercase();
        let url = url.to_owned();
        wait_or_await(
            py,
            async move { builder.send().await },
            Box::new(move |py, sent| match sent {
                Ok(response) => {
                    Ok(Py::new(py, PyHttpResponse::new(response, method, url))?.into_any())
                }
                Err(e) => Err(request_error(&method, &url, e)),
            }),
        )
    }

    #[pyo3(signature = (url, **kwargs))]
    fn get(
        &self,
        py: Python<'_>,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, "GET", url, kwargs)
    }

    #[pyo3(signature = (url, **kwargs))]
    fn post(
        &self,
        py: Python<'_>,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, "POST", url, kwargs)
    }

    #[pyo3(signature = (url, **kwargs))]
    fn put(
        &self,
        py: Python<'_>,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, "PUT", url, kwargs)
    }

    #[pyo3(signature = (url, **kwargs))]
    fn patch(
        &self,
        py: Python<'_>,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, "PATCH", url, kwargs)
    }

    #[pyo3(signature = (url, **kwargs))]
    fn delete(
        &self,
        py: Python<'_>,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, "DELETE", url, kwargs)
    }

    #[pyo3(signature = (url, **kwargs))]
    fn head(
        &self,
        py: Python<'_>,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, "HEAD", url, kwargs)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    fn __repr__(&self) -> String {
        format!("<puff.http client {:?}>", self.name)
    }
}

impl PyHttpClient {
    fn call(
        &self,
        py: Python<'_>,
        method: &str,
        url: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let get = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            Ok(match kwargs {
                Some(kw) => kw.get_item(k)?,
                None => None,
            })
        };
        if let Some(kw) = kwargs {
            for key in kw.keys() {
                let key: String = key.extract()?;
                if !["json", "data", "headers", "params", "timeout_ms"].contains(&key.as_str()) {
                    return Err(PyTypeError::new_err(format!(
                        "{}() got an unexpected keyword argument {key:?}",
                        method.to_ascii_lowercase()
                    )));
                }
            }
        }
        let timeout_ms = match get("timeout_ms")? {
            Some(t) if !t.is_none() => Some(t.extract::<u64>()?),
            _ => None,
        };
        self.request(
            py,
            method,
            url,
            get("json")?.as_ref(),
            get("data")?.as_ref(),
            get("headers")?.as_ref(),
            get("params")?.as_ref(),
            timeout_ms,
        )
    }
}

enum BodyState {
    Pending(reqwest::Response),
    Read(Bytes),
    Taken,
}

/// An HTTP response: `.status`, `.headers`, and the body via `.body()`, `.text()`, `.json()`
/// (results in a greenlet, awaitables in a coroutine).
#[pyclass(module = "puff._native.http", name = "HttpResponse", frozen)]
pub struct PyHttpResponse {
    status: u16,
    version: String,
    headers: Vec<(String, String)>,
    method: String,
    url: String,
    body: Arc<Mutex<BodyState>>,
}

impl PyHttpResponse {
    fn new(response: reqwest::Response, method: String, url: String) -> Self {
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in response.headers() {
            let value: String = value.as_bytes().iter().map(|&b| b as char).collect();
            match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
                Some((_, existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                None => headers.push((name.as_str().to_owned(), value)),
            }
        }
        PyHttpResponse {
            status: response.status().as_u16(),
            version: format!("{:?}", response.version()),
            headers,
            method,
            url,
            body: Arc::new(Mutex::new(BodyState::Pending(response))),
        }
    }

    /// Read the body once (cached), then `convert` it.
    fn with_body(
        &self,
        py: Python<'_>,
        convert: impl FnOnce(Python<'_>, &Bytes) -> PyResult<Py<PyAny>> + Send + 'static,
    ) -> PyResult<Py<PyAny>> {
        let state = std::mem::replace(
            &mut *self
                .body
                .lock()
                .map_err(|_| exceptions::PuffError::new_err("response lock poisoned"))?,
            BodyState::Taken,
        );
        match state {
            BodyState::Read(bytes) => {
                let out = convert(py, &bytes);
                if let Ok(mut s) = self.body.lock() {
                    *s = BodyState::Read(bytes);
                }
                if in_coroutine(py) {
                    resolved_future(py, out)
                } else {
                    out
                }
            }
            BodyState::Taken => Err(HttpError::new_err(
                "the response body is being read by another caller",
            )),
            BodyState::Pending(response) => {
                let cache = self.body.clone();
                let (method, url) = (self.method.clone(), self.url.clone());
                wait_or_await(
                    py,
                    async move { response.bytes().await },
                    Box::new(move |py, read| {
                        let bytes = read.map_err(|e| request_error(&method, &url, e))?;
                        let out = convert(py, &bytes);
                        if let Ok(mut s) = cache.lock() {
                            *s = BodyState::Read(bytes);
                        }
                        out
                    }),
                )
            }
        }
    }
}

#[pymethods]
impl PyHttpResponse {
    #[getter]
    fn status(&self) -> u16 {
        self.status
    }

    /// Response headers as a dict with lower-case names (repeated headers joined by ", ").
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in &self.headers {
            dict.set_item(k, v)?;
        }
        Ok(dict)
    }

    /// "HTTP/1.1" or "HTTP/2.0".
    #[getter]
    fn http_version(&self) -> &str {
        &self.version
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    fn body(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.with_body(py, |py, bytes| {
            Ok(PyBytes::new(py, bytes).into_any().unbind())
        })
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    fn text(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.with_body(py, |py, bytes| {
            Ok(PyString::new(py, &String::from_utf8_lossy(bytes))
                .into_any()
                .unbind())
        })
    }

    /// The body parsed as JSON (in Rust) into Python objects.
    fn json(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (method, url) = (self.method.clone(), self.url.clone());
        self.with_body(py, move |py, bytes| {
            let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
                JSONDecodeError::new_err(format!("{method} {url}: the response is not JSON: {e}"))
            })?;
            puff_greenlet::json::to_py(py, &value)
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<puff.http response {} {} -> {}>",
            self.method, self.url, self.status
        )
    }
}

/// `client(name="default")`: the named client.
#[pyfunction]
#[pyo3(signature = (name="default"))]
fn client(name: &str) -> PyResult<PyHttpClient> {
    let runtime = PythonRuntime::global()?;
    let clients = runtime
        .resources()
        .get::<HttpClients>("default")
        .ok_or_else(|| {
            exceptions::PuffError::new_err("the HTTP client subsystem is not running")
        })?;
    let client = clients.get(name).cloned().ok_or_else(|| {
        PyValueError::new_err(format!(
            "no HTTP client named {name:?}; add [[http_client]] name = {name:?} to puff.toml"
        ))
    })?;
    Ok(PyHttpClient {
        client,
        name: name.to_owned(),
    })
}

/// Build `puff._native.http`.
pub fn python_module<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyModule>> {
    let m = PyModule::new(py, "puff._native.http")?;
    m.add("HttpError", py.get_type::<HttpError>())?;
    m.add("ConnectError", py.get_type::<ConnectError>())?;
    m.add("TimeoutError", py.get_type::<TimeoutError>())?;
    m.add("JSONDecodeError", py.get_type::<JSONDecodeError>())?;
    m.add_class::<PyHttpClient>()?;
    m.add_class::<PyHttpResponse>()?;
    m.add_function(wrap_pyfunction!(client, &m)?)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_defaults_and_duplicates() {
        let configs = vec![HttpClientConfig {
            name: "internal".into(),
            http2_prior_knowledge: true,
            ..Default::default()
        }];
        let clients = HttpClients::build(&configs).unwrap();
        assert!(clients.get("default").is_some());
        assert!(clients.get("internal").is_some());
        let twice = vec![HttpClientConfig::default(), HttpClientConfig::default()];
        let err = HttpClients::build(&twice).err().unwrap();
        assert!(err.to_string().contains("twice"));
    }
}
