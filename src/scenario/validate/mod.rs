//! Validation: a parsed scenario file becomes an immutable [`Economy`], or a list of
//! problems, each with its place in the file and a way to fix it.
//!
//! The steps, each in its own file: `head.rs` checks everything before the firms (name,
//! version, the goods of `goods.rs`, and the `[market]`, `[agents]`, `[run]` and `[log]`
//! tables of `settings.rs`); `firms.rs` checks each firm entry (a `[[firms]]` table or a row
//! of a firms table, read through `firm_entry.rs`; its production through
//! `technology.rs`, its errors placed by `expr_place.rs`) into a compact batch (`batch.rs`);
//! `assemble.rs` merges the batches, checks what needs all firms (duplicate names, the size
//! and memory limits of `limits.rs`, `[log] goods`, the shocks of `shocks.rs`, the sources and
//! cycles of `graph.rs`) and builds the economy. `problems.rs` collects the problems,
//! `names.rs` looks names up, and `sweep_table.rs` checks the `[sweep]` table. The chunked
//! loader (`scenario/chunked/`) runs the same steps on chunks of a large file, in parallel.

mod assemble;
mod batch;
mod expr_place;
mod firm_entry;
mod firms;
mod goods;
mod graph;
mod head;
mod limits;
mod names;
mod problems;
mod settings;
mod shocks;
mod sweep_table;
mod technology;

pub(crate) use assemble::finish;
pub(crate) use batch::Batch;
pub(crate) use firm_entry::{to_spec, Family, FirmEntry, ParamList, Params, Production};
pub(crate) use firms::{validate_firm, ShapeCache};
pub(crate) use goods::{validate_good, GoodsPart};
pub use graph::{index_goods, topological_order};
pub use head::valid_scenario_name;
pub(crate) use head::{Head, HeadStart};
pub use limits::MAX_FIRMS;
pub use sweep_table::sweep_table;
pub use technology::{MAX_EXPRESSION_BYTES, MAX_EXPRESSION_INPUTS};

use super::error::Problem;
use super::format::ScenarioFile;
use crate::economy::Economy;

/// The validated scenario: the economy, or every problem found.
pub fn validate(file: &ScenarioFile, source: &str, seed_override: Option<u64>) -> Result<Economy, Vec<Problem>> {
    let head = Head::new(file, source, seed_override, !file.firms.is_empty());
    let mut batch = Batch::default();
    {
        let ctx = head.firm_ctx(file, source);
        let mut cache = ShapeCache::default();
        for f in &file.firms {
            validate_firm(&ctx, f.get_ref(), &mut cache, &mut batch);
        }
    }
    finish(head, file, source, vec![batch])
}
