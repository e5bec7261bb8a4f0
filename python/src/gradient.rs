//! `gradient`: the numbers of `pricegrad gradient --json` ([`pricegrad::check::gradient`]),
//! as columns for a DataFrame.

use crate::errors;
use crate::input::Input;
use pricegrad::check::gradient::gradient as compute;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Columns `good, fixed_price, supplied, used, adjoint` and the scenario, method, how and
/// value, in a dict.
#[pyfunction]
#[pyo3(signature = (kind, scenario, sets))]
pub fn gradient(py: Python<'_>, kind: &str, scenario: String, sets: Vec<String>) -> PyResult<Py<PyDict>> {
    let loaded = Input::new(kind, scenario)
        .load(&sets, None)
        .map_err(|e| errors::input(py, &e))?;
    let economy = loaded.economy;
    let g = py.detach(|| compute(&economy)).map_err(|e| {
        errors::failed(
            py,
            &e,
            "the gradient needs a forward pass (chains and trees) or the reference solver",
        )
    })?;
    let d = PyDict::new(py);
    let column = |f: fn(&pricegrad::check::gradient::GoodGradient) -> f64| g.goods.iter().map(f).collect::<Vec<f64>>();
    d.set_item("good", g.goods.iter().map(|r| r.good.clone()).collect::<Vec<_>>())?;
    d.set_item("fixed_price", g.goods.iter().map(|r| r.fixed_price).collect::<Vec<_>>())?;
    d.set_item("supplied", column(|r| r.supplied))?;
    d.set_item("used", column(|r| r.used))?;
    d.set_item("adjoint", column(|r| r.adjoint))?;
    d.set_item("scenario", &g.scenario)?;
    d.set_item("method", g.method)?;
    d.set_item("how", &g.how)?;
    d.set_item("value", g.value)?;
    Ok(d.unbind())
}
