//! Building the [`Economy`]: the batches of validated firms are merged (each group's
//! replicas laid out in the firm arrays), then what needs all firms is checked (duplicate
//! names, the size limits, a unit of account, `[log] goods`, shocks, sources and cycles of
//! the goods graph) and the economy is put together.

use super::batch::{AgentTable, Batch, TechTable};
use super::graph::{index_goods, topological_order};
use super::head::Head;
use super::limits::Sizes;
use super::names::{may_repeat, NameIndex};
use super::problems::{resolve_suggestions, Check};
use super::{settings, shocks};
use crate::economy::*;
use crate::numeric::random;
use crate::scenario::error::Problem;
use crate::scenario::format::ScenarioFile;
use std::ops::Range;

/// Merge the validated firms (batches in file order) with the head, check what needs all
/// firms (duplicate names, totals, log goods, shocks, sources, cycles) and build the economy.
pub(crate) fn finish(
    head: Head,
    file: &ScenarioFile,
    source: &str,
    batches: Vec<Batch>,
) -> Result<Economy, Vec<Problem>> {
    let Head {
        problems,
        name,
        mut goods,
        good_spans,
        index,
        agent_defaults: _,
        market,
        run,
        every,
    } = head;
    let mut c = Check { problems, defer: false };

    // --- sizes: the firm cap and the memory a run would need, before anything is built ----
    let sizes = Sizes::of(&batches);
    let fits = sizes.fits;

    // --- merge the batches: the groups, and the firm arrays with the replicas -----------------
    // Each batch is copied into place and freed at once, so the firms are never held twice.
    let mut groups: Vec<FirmGroup> = Vec::with_capacity(sizes.groups);
    let mut group_names = Names::new();
    group_names.reserve(sizes.groups, batches.iter().map(|b| b.names.bytes()).sum());
    let mut name_spans: Vec<Range<usize>> = Vec::with_capacity(sizes.groups);
    let mut techs = TechTable::default();
    let mut agents = AgentTable::default();
    let mut firms = Firms::default();
    if fits {
        let (n_firms, n_edges, n_outs) = (sizes.firms as usize, sizes.edges as usize, sizes.slots as usize);
        firms.group.reserve_exact(n_firms);
        firms.productivity.reserve_exact(n_firms);
        firms.input_start.reserve_exact(n_firms + 1);
        firms.input_good.reserve_exact(n_edges);
        firms.input_param.reserve_exact(n_edges);
        firms.edge_firm.reserve_exact(n_edges);
        firms.output_start.reserve_exact(n_firms + 1);
        firms.output_good.reserve_exact(n_outs);
        firms.output_weight.reserve_exact(n_outs);
        firms.output_firm.reserve_exact(n_outs);
        firms.input_start.push(0);
        firms.output_start.push(0);
    }
    // goods some firm uses (for the unit-of-account message, needed only without a fixed price)
    let mut used = (!goods.fixed.iter().any(|&f| f) && !goods.is_empty()).then(|| vec![false; goods.len()]);
    // (firm, 0 = before the duplicate check / 1 = duplicate / 2 = after, problem)
    let mut firm_problems: Vec<(usize, u8, Problem)> = Vec::new();
    let mut merged_bytes = 0;
    for b in batches {
        // the batches merged so far are freed: give their pages back now and then, so that
        // the firms are not resident twice (the workers' allocator arenas keep freed pages)
        merged_bytes += b.heap_bytes();
        if merged_bytes >= TRIM_BYTES {
            crate::scenario::free_memory::release_free_memory();
            merged_bytes = 0;
        }
        let first = groups.len();
        let tech_map: Vec<u32> = b.techs.list.into_iter().map(|t| techs.add(t)).collect();
        let agent_map: Vec<u32> = b.agents.list.into_iter().map(|a| agents.add(a)).collect();
        group_names.append(&b.names);
        name_spans.extend(b.name_spans);
        if let Some(used) = used.as_mut() {
            for &g in &b.inputs {
                used[g as usize] = true;
            }
        }
        for (j, g) in b.groups.iter().enumerate() {
            let mut g = FirmGroup {
                technology: tech_map[g.technology as usize],
                agent: agent_map[g.agent as usize],
                ..g.clone()
            };
            if fits {
                let r = b.input_start[j] as usize..b.input_start[j + 1] as usize;
                let o = b.output_start[j] as usize..b.output_start[j + 1] as usize;
                g.first = firms.group.len() as u32;
                push_replicas(
                    &mut firms,
                    &g,
                    groups.len() as u32,
                    run.seed,
                    b.spread[j],
                    (&b.inputs[r.clone()], &b.params[r]),
                    &b.outputs[o],
                );
            }
            groups.push(g);
        }
        firm_problems.extend(
            b.problems
                .into_iter()
                .map(|(f, after, p)| (first + f as usize, if after { 2 } else { 0 }, p)),
        );
    }
    let technologies = techs.list;
    let agents = agents.list;
    // duplicate firm names: the first use of a name wins
    // (most economies have none, which their names' hashes show without an index)
    let repeats = may_repeat(groups.len(), |i| &group_names[i]);
    let (firm_index, unique) = match repeats {
        true => NameIndex::build_checked(groups.len(), |i| &group_names[i]),
        false => NameIndex::build_checked(0, |i| &group_names[i]),
    };
    for (f, name) in group_names.iter().enumerate().filter(|_| repeats && !unique) {
        let first = firm_index.get(name).expect("indexed");
        if first != f {
            let (line, _) = crate::scenario::error::line_col(source, name_spans[first].start);
            firm_problems.push((
                f,
                1,
                Problem::at(
                    name_spans[f].clone(),
                    format!("duplicate firm name '{name}' (first used on line {line})"),
                    "give every [[firms]] entry its own name; use `count = N` for N identical firms",
                ),
            ));
        }
    }
    drop(firm_index);
    firm_problems.sort_by_key(|(f, phase, _)| (*f, *phase));
    if !firm_problems.is_empty() {
        let first = c.problems.len();
        c.problems.extend(firm_problems.into_iter().map(|(_, _, p)| p));
        resolve_suggestions(&mut c.problems[first..], first, &goods.name);
    }

    // All the entries together: the firm cap, and the memory a run would need.
    sizes.check(&mut c);

    // A unit of account. Point at a good no firm uses (a final good: the natural one to
    // price), else at the first good.
    if let Some(used) = used {
        let g = (0..goods.len()).find(|&g| !used[g]).unwrap_or(0);
        let gname = &goods.name[g];
        c.at(
            good_spans[g].clone(),
            "no good has a fixed price",
            format!("at least one good needs `price = ...`: it is the unit of account (the essay prices everything in tupperware); e.g. the final good: [goods.{gname}] price = 1.0"),
        );
    }

    // --- log goods ------------------------------------------------------------------------
    let mut log_goods = settings::log_goods(&mut c, &file.log, &goods, &index);

    // --- shocks ---------------------------------------------------------------------------
    let shocks = shocks::shocks(&mut c, &file.shocks, &goods, &index, &group_names);

    // Stop here if anything is wrong so far: the graph checks below need consistent data.
    if !c.problems.is_empty() {
        return Err(c.problems);
    }

    drop(index);
    index_goods(&mut goods, &firms);

    // --- graph checks: sources, cycles ---------------------------------------------------------
    let firm_spans = name_spans;
    for g in goods.endogenous() {
        if goods.endowment[g] == 0.0 && goods.producers(g).is_empty() {
            let uses = goods.uses(g).len();
            c.at(good_spans[g].clone(), format!("good '{}' has no source: no firm produces it and it has no endowment{}", &goods.name[g], if uses > 0 { " (but firms use it)" } else { "" }), format!("give it a supply, e.g. [goods.{}] endowment = 1.0, add a firm with output = \"{}\", or give it a fixed price", &goods.name[g], &goods.name[g]));
        }
    }
    match topological_order(&goods, &firms) {
        Ok(order) => firms.topo_order = order,
        Err(cycle) => {
            let path = cycle
                .iter()
                .map(|&(g, f)| format!("{} -> {}", &goods.name[g], &group_names[firms.group[f] as usize]))
                .collect::<Vec<_>>()
                .join(" -> ");
            let first_good = cycle[0].0;
            let first_group = firms.group[cycle[0].1] as usize;
            c.at(firm_spans[first_group].clone(), format!("the goods graph has a cycle: {path} -> {}", &goods.name[first_good]), "pricegrad (version 1) needs an acyclic supply chain along endogenous goods; break the cycle, e.g. by giving one of these goods a fixed price (bought from outside)");
        }
    }
    if !c.problems.is_empty() {
        return Err(c.problems);
    }

    if log_goods.is_empty() {
        log_goods = LogSettings::default_goods(&goods.endogenous().collect::<Vec<_>>());
    }
    // a default cadence thins long runs; a `log.every` from the file is kept for every tick
    let thin = every.is_none();
    let every = every.unwrap_or_else(|| LogSettings::default_every(firms.edges()));
    Ok(Economy {
        name,
        description: file.description.clone().unwrap_or_default(),
        goods,
        groups,
        group_names,
        technologies,
        agents,
        firms,
        market,
        run,
        log: LogSettings {
            format: file.log.format,
            every,
            thin,
            goods: log_goods,
        },
        shocks,
    })
}

/// Bytes of batches merged between two returns of freed memory to the system.
const TRIM_BYTES: usize = 16 << 20;

/// Append the `group.count` replicas of group `gi` to the firm arrays: its inputs (goods,
/// parameters) and outputs (goods, weights), and each replica's productivity, the group's
/// times a seeded lognormal draw when `spread` > 0.
fn push_replicas(
    firms: &mut Firms,
    group: &FirmGroup,
    gi: u32,
    seed: u64,
    spread: f64,
    (inputs, params): (&[u32], &[f64]),
    outputs: &[(u32, f64)],
) {
    for _ in 0..group.count {
        let f = firms.group.len();
        firms.group.push(gi);
        let draw = if spread > 0.0 {
            let mut rng = random::stream(seed, random::Purpose::Productivity, f as u64);
            (spread * random::normal(&mut rng) - 0.5 * spread * spread).exp()
        } else {
            1.0
        };
        firms.productivity.push(group.productivity * draw);
        for (&g, &w) in inputs.iter().zip(params) {
            firms.input_good.push(g);
            firms.input_param.push(w);
            firms.edge_firm.push(f as u32);
        }
        firms.input_start.push(firms.input_good.len() as u32);
        for &(g, w) in outputs {
            firms.output_good.push(g);
            firms.output_weight.push(w);
            firms.output_firm.push(f as u32);
        }
        firms.output_start.push(firms.output_good.len() as u32);
    }
}
