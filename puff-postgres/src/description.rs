//! `cursor.description` for `puff.postgres` and the psycopg2 shim: a tuple of [`PyColumn`]
//! (`puff.postgres.Column`), psycopg2's `Column`: attributes `name`, `type_code` (the type's
//! OID), `display_size`, `internal_size`, `precision`, `scale`, `null_ok`, `table_oid` and
//! `table_column`, and a read-only sequence of the first seven (the DB-API 7-tuple).
//!
//! Descriptions are immutable and cached by their columns, so a statement run again (what
//! ORMs do all day) reuses the same tuple instead of building its objects anew.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::pool::Column;

const NUMERIC_OID: u32 = 1700;

/// One column of `cursor.description` (psycopg2's `Column`).
#[pyclass(name = "Column", module = "puff.postgres", frozen, sequence)]
pub struct PyColumn {
    #[pyo3(get)]
    name: Py<PyAny>,
    #[pyo3(get)]
    type_code: Py<PyAny>,
    #[pyo3(get)]
    display_size: Py<PyAny>,
    #[pyo3(get)]
    internal_size: Py<PyAny>,
    #[pyo3(get)]
    precision: Py<PyAny>,
    #[pyo3(get)]
    scale: Py<PyAny>,
    #[pyo3(get)]
    null_ok: Py<PyAny>,
    #[pyo3(get)]
    table_oid: Py<PyAny>,
    #[pyo3(get)]
    table_column: Py<PyAny>,
}

fn int_or_none(py: Python<'_>, v: Option<i64>) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Some(i) => i.into_pyobject(py)?.into_any().unbind(),
        None => py.None(),
    })
}

impl PyColumn {
    /// The column as psycopg2 describes it (from libpq's `PQftype`, `PQfmod`, `PQfsize`,
    /// `PQftable`, `PQftablecol`).
    fn from_column(py: Python<'_>, c: &Column) -> PyResult<PyColumn> {
        let mut fmod = i64::from(c.type_modifier);
        if fmod > 0 {
            fmod -= 4; // typmods count their own 4-byte header
        }
        let internal_size = match (c.type_size, c.type_oid) {
            (-1, NUMERIC_OID) => fmod >> 16,
            (-1, _) => fmod,
            (size, _) => i64::from(size),
        };
        let (precision, scale) = if c.type_oid == NUMERIC_OID {
            (Some((fmod >> 16) & 0xFFFF), Some(fmod & 0xFFFF))
        } else {
            (None, None)
        };
        Ok(PyColumn {
            name: c.name.as_str().into_pyobject(py)?.into_any().unbind(),
            type_code: c.type_oid.into_pyobject(py)?.into_any().unbind(),
            display_size: py.None(),
            internal_size: int_or_none(py, Some(internal_size))?,
            precision: int_or_none(py, precision)?,
            scale: int_or_none(py, scale)?,
            null_ok: py.None(),
            table_oid: int_or_none(py, c.table_oid.map(i64::from))?,
            table_column: int_or_none(py, c.column_id.map(i64::from))?,
        })
    }

    fn as_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.name.bind(py),
                self.type_code.bind(py),
                self.display_size.bind(py),
                self.internal_size.bind(py),
                self.precision.bind(py),
                self.scale.bind(py),
                self.null_ok.bind(py),
            ],
        )
    }
}

#[pymethods]
impl PyColumn {
    #[new]
    #[pyo3(signature = (
        name=None, type_code=None, display_size=None, internal_size=None, precision=None,
        scale=None, null_ok=None, table_oid=None, table_column=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: Option<Py<PyAny>>,
        type_code: Option<Py<PyAny>>,
        display_size: Option<Py<PyAny>>,
        internal_size: Option<Py<PyAny>>,
        precision: Option<Py<PyAny>>,
        scale: Option<Py<PyAny>>,
        null_ok: Option<Py<PyAny>>,
        table_oid: Option<Py<PyAny>>,
        table_column: Option<Py<PyAny>>,
    ) -> PyColumn {
        let or_none = |v: Option<Py<PyAny>>| v.unwrap_or_else(|| py.None());
        PyColumn {
            name: or_none(name),
            type_code: or_none(type_code),
            display_size: or_none(display_size),
            internal_size: or_none(internal_size),
            precision: or_none(precision),
            scale: or_none(scale),
            null_ok: or_none(null_ok),
            table_oid: or_none(table_oid),
            table_column: or_none(table_column),
        }
    }

    fn __len__(&self) -> usize {
        7
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.as_tuple(py)?.as_any().get_item(index)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.as_tuple(py)?.as_any().try_iter()?.into_any())
    }

    fn __richcmp__<'py>(
        &self,
        py: Python<'py>,
        other: &Bound<'py, PyAny>,
        op: CompareOp,
    ) -> PyResult<Bound<'py, PyAny>> {
        let theirs = if let Ok(column) = other.cast::<PyColumn>() {
            column.get().as_tuple(py)?.into_any()
        } else if other.is_instance_of::<PyTuple>() {
            other.clone()
        } else {
            return Ok(py.NotImplemented().into_bound(py));
        };
        self.as_tuple(py)?.as_any().rich_compare(theirs, op)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Column(name={}, type_code={})",
            self.name.bind(py).repr()?,
            self.type_code.bind(py).repr()?
        ))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let args = PyTuple::new(
            py,
            [
                &self.name,
                &self.type_code,
                &self.display_size,
                &self.internal_size,
                &self.precision,
                &self.scale,
                &self.null_ok,
                &self.table_oid,
                &self.table_column,
            ],
        )?;
        PyTuple::new(py, [py.get_type::<PyColumn>().into_any(), args.into_any()])
    }
}

const CACHE_MAX: usize = 1024;

/// Descriptions already built, by their columns (shared by every connection: they are
/// immutable).
static CACHE: Mutex<Option<HashMap<Vec<Column>, Py<PyTuple>>>> = Mutex::new(None);

/// `cursor.description` for `columns`: None for a statement without results, else a tuple
/// of `Column`.
pub(crate) fn description<'py>(py: Python<'py>, columns: &[Column]) -> PyResult<Bound<'py, PyAny>> {
    if columns.is_empty() {
        return Ok(py.None().into_bound(py));
    }
    {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = cache.as_ref().and_then(|c| c.get(columns)) {
            return Ok(found.bind(py).clone().into_any());
        }
    }
    // Built without holding the lock: creating Python objects can run arbitrary code.
    let mut items = Vec::with_capacity(columns.len());
    for c in columns {
        items.push(Bound::new(py, PyColumn::from_column(py, c)?)?);
    }
    let built = PyTuple::new(py, items)?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if map.len() >= CACHE_MAX {
        map.clear();
    }
    map.insert(columns.to_vec(), built.clone().unbind());
    Ok(built.into_any())
}
