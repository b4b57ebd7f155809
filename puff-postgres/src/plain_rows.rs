//! `plain_rows`, the check `Cursor.executemany` makes before it hands its parameter sets to
//! the native module as they are: every set a tuple or list of `width` values, each of a
//! type the native module binds itself. In Rust because Python's set comprehensions over
//! 10,000 rows x 6 values took 2 ms, about 4% of such an `executemany`.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PySet, PyTuple};

/// Whether every item of `seq` is a tuple or list (exactly) of `width` values whose types
/// (exactly, not subclasses) are in `types`.
#[pyfunction]
pub(crate) fn plain_rows(seq: &Bound<'_, PyList>, width: usize, types: &Bound<'_, PySet>) -> bool {
    let allowed: Vec<*mut ffi::PyTypeObject> = types.iter().map(|t| t.as_ptr().cast()).collect();
    // The type last seen in each column: most columns hold one type, so one comparison.
    let mut seen: Vec<*mut ffi::PyTypeObject> = vec![std::ptr::null_mut(); width];
    let mut plain = |column: usize, value: &Bound<'_, PyAny>| {
        let ty = value.get_type_ptr();
        if seen[column] == ty {
            return true;
        }
        let ok = allowed.contains(&ty);
        if ok {
            seen[column] = ty;
        }
        ok
    };
    seq.iter().all(|row| {
        if let Ok(tuple) = row.cast_exact::<PyTuple>() {
            tuple.len() == width && tuple.iter().enumerate().all(|(i, v)| plain(i, &v))
        } else if let Ok(list) = row.cast_exact::<PyList>() {
            list.len() == width && list.iter().enumerate().all(|(i, v)| plain(i, &v))
        } else {
            false
        }
    })
}
