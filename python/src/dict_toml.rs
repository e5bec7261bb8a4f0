//! A scenario given as a Python dict, written as TOML text in the layout of the shipped
//! scenario files (`[goods.NAME]` tables, `[[firms]]` entries, `[market]` ...; anything deeper
//! inline), keeping the dict's order (the order of goods and firms is the economy's). The
//! text is then loaded like a file, so a dict is validated exactly as a file is, and an error
//! points at a line of this text (`pricegrad.to_toml` shows it).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString, PyTuple};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

/// `scenario` (a dict) as TOML text.
pub fn to_toml(scenario: &Bound<'_, PyAny>) -> PyResult<String> {
    let dict = scenario
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("a scenario dict must be a dict"))?;
    let mut doc = DocumentMut::new();
    for (k, v) in dict.iter() {
        let key = key(&k, "")?;
        let item = top_item(&v, &key)?;
        doc.insert(&key, item);
    }
    Ok(doc.to_string())
}

/// One value (a production family, say) as inline TOML, as a `--set` value is written.
pub fn inline(v: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(value(v, "")?.to_string().trim().to_string())
}

fn key(k: &Bound<'_, PyAny>, at: &str) -> PyResult<String> {
    k.extract::<String>().map_err(|_| {
        PyTypeError::new_err(format!(
            "scenario{at}: the keys of a scenario dict are strings, not {k:?}"
        ))
    })
}

/// A top-level entry: a dict becomes a `[table]` (a dict of dicts, `[goods.NAME]` tables), a
/// list of dicts `[[entries]]`, anything else a value.
fn top_item(v: &Bound<'_, PyAny>, at: &str) -> PyResult<Item> {
    if let Ok(d) = v.cast::<PyDict>() {
        let mut t = Table::new();
        let nested = !d.is_empty() && d.values().iter().all(|x| x.is_instance_of::<PyDict>());
        if nested {
            t.set_implicit(true);
        }
        for (k, x) in d.iter() {
            let name = key(&k, &format!("[{at:?}]"))?;
            let here = format!("[{at:?}][{name:?}]");
            if nested {
                let mut sub = Table::new();
                for (k2, y) in x.cast::<PyDict>()?.iter() {
                    let n2 = key(&k2, &here)?;
                    sub.insert(&n2, Item::Value(value(&y, &format!("{here}[{n2:?}]"))?));
                }
                t.insert(&name, Item::Table(sub));
            } else {
                t.insert(&name, Item::Value(value(&x, &here)?));
            }
        }
        return Ok(Item::Table(t));
    }
    if let Some(items) = sequence(v) {
        if !items.is_empty() && items.iter().all(|x| x.is_instance_of::<PyDict>()) {
            let mut entries = ArrayOfTables::new();
            for (i, x) in items.iter().enumerate() {
                let here = format!("[{at:?}][{i}]");
                let mut t = Table::new();
                for (k, y) in x.cast::<PyDict>()?.iter() {
                    let name = key(&k, &here)?;
                    t.insert(&name, Item::Value(value(&y, &format!("{here}[{name:?}]"))?));
                }
                entries.push(t);
            }
            return Ok(Item::ArrayOfTables(entries));
        }
    }
    Ok(Item::Value(value(v, &format!("[{at:?}]"))?))
}

/// The items of a list or tuple.
fn sequence<'py>(v: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(l) = v.cast::<PyList>() {
        return Some(l.iter().collect());
    }
    v.cast::<PyTuple>().ok().map(|t| t.iter().collect())
}

/// A value (dicts inline). `at` is where it is, for messages: `["goods"]["natgas"]["price"]`.
fn value(v: &Bound<'_, PyAny>, at: &str) -> PyResult<Value> {
    if v.is_none() {
        return Err(PyTypeError::new_err(format!(
            "scenario{at} is None: TOML has no null; leave the key out for its default"
        )));
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Value::from(v.extract::<bool>()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Value::from(v.extract::<String>()?));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(Value::from(v.extract::<f64>()?));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut t = InlineTable::new();
        for (k, x) in d.iter() {
            let name = key(&k, at)?;
            t.insert(&name, value(&x, &format!("{at}[{name:?}]"))?);
        }
        return Ok(Value::InlineTable(t));
    }
    if let Some(items) = sequence(v) {
        let mut a = Array::new();
        for (i, x) in items.iter().enumerate() {
            a.push(value(x, &format!("{at}[{i}]"))?);
        }
        return Ok(Value::Array(a));
    }
    // ints, and numbers of other libraries (numpy) through __index__ or __float__
    if let Ok(i) = v.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(Value::from(f));
    }
    Err(PyTypeError::new_err(format!(
        "scenario{at} is a {}: a scenario dict holds dicts, lists, strings, numbers and booleans",
        v.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "value".into())
    )))
}
