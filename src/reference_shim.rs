//! TEMPORARY: stands in for crate::reference until the solver lands.
use crate::economy::Economy;
#[derive(Debug, Clone)]
pub struct Equilibrium {
    pub prices: Vec<f64>,
    pub x: Vec<f64>,
    pub value: f64,
}
pub fn solve(_e: &Economy) -> Result<Equilibrium, String> {
    Err("the reference solver is not built yet".into())
}
pub fn envelope(_e: &Economy, _eq: &Equilibrium) -> Result<Vec<Option<f64>>, String> {
    Err("no".into())
}
