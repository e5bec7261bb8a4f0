//! TEMPORARY STUB: replaced by the chart module.
use std::path::Path;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize { pub width: u32, pub height: u32 }
impl Default for ChartSize { fn default() -> Self { ChartSize { width: 1600, height: 1200 } } }
#[derive(Debug, thiserror::Error)]
pub enum PlotError { #[error("{0}")] Other(String) }
pub struct RunData;
pub fn read_run(_dir: &Path) -> Result<RunData, PlotError> { Ok(RunData) }
pub fn render_convergence(_d: &RunData, _t: &str, _s: ChartSize) -> Result<Vec<u8>, PlotError> { Ok(vec![]) }
