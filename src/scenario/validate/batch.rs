//! [`Batch`]: validated firms in file order, in compact form (one group per `[[firms]]`
//! entry, edges in flat arrays, problems by firm), with identical technologies and agent
//! settings merged into tables ([`Dedup`]). The chunked loader fills one batch per chunk;
//! `assemble` merges them.

use crate::economy::agent_settings::AgentSettings;
use crate::economy::{FirmGroup, Names};
use crate::production::Technology;
use crate::scenario::error::Problem;
use crate::scenario::format::Int;
use std::collections::HashMap;
use std::ops::Range;

/// Identical technologies share one entry of `Economy::technologies`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TechKey {
    Expression(String),
    Family(u8, [u64; 3]),
}

fn tech_key(t: &Technology) -> TechKey {
    let b = f64::to_bits;
    match t {
        Technology::Expression(e) => TechKey::Expression(e.source().to_string()),
        Technology::CobbDouglas { scale } => TechKey::Family(0, [b(*scale), 0, 0]),
        Technology::Ces { scale, rho, returns } => TechKey::Family(1, [b(*scale), b(*rho), b(*returns)]),
        Technology::Power { scale, exponent } => TechKey::Family(2, [b(*scale), b(*exponent), 0]),
        Technology::Linear => TechKey::Family(3, [0; 3]),
        Technology::Leontief { scale } => TechKey::Family(4, [b(*scale), 0, 0]),
    }
}

/// Values with their duplicates merged (equal keys, one entry), in order of first use.
pub(crate) struct Dedup<T, K> {
    pub(super) list: Vec<T>,
    seen: HashMap<K, u32>,
    key: fn(&T) -> K,
    /// The last key added and its index (runs of firms share settings: no hashing for them).
    last: Option<(K, u32)>,
}

impl<T, K: std::hash::Hash + Eq + Clone> Dedup<T, K> {
    fn new(key: fn(&T) -> K) -> Self {
        Dedup {
            list: Vec::new(),
            seen: HashMap::new(),
            key,
            last: None,
        }
    }

    /// The index of `t`'s entry (added when new).
    pub(super) fn add(&mut self, t: T) -> u32 {
        let key = (self.key)(&t);
        if let Some((k, i)) = &self.last {
            if *k == key {
                return *i;
            }
        }
        let i = match self.seen.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.list.len() as u32;
                self.list.push(t);
                self.seen.insert(key.clone(), i);
                i
            }
        };
        self.last = Some((key, i));
        i
    }
}

/// Identical technologies share one entry of `Economy::technologies`.
pub(crate) type TechTable = Dedup<Technology, TechKey>;

/// Identical agent settings share one entry of `Economy::agents`.
pub(crate) type AgentTable = Dedup<AgentSettings, (u8, u8, [u64; 3])>;

fn agent_key(a: &AgentSettings) -> (u8, u8, [u64; 3]) {
    (
        a.rule as u8,
        a.form as u8,
        [a.rate.to_bits(), a.noise.to_bits(), a.activation.to_bits()],
    )
}

impl Default for TechTable {
    fn default() -> Self {
        Dedup::new(tech_key)
    }
}

impl Default for AgentTable {
    fn default() -> Self {
        Dedup::new(agent_key)
    }
}

/// Validated firms in file order, compact: one group per `[[firms]]` entry (its technology
/// and agent indices local to the batch) with its edges in flat arrays, and the problems
/// found, by firm.
#[derive(Default)]
pub(crate) struct Batch {
    pub(super) groups: Vec<FirmGroup>,
    pub(super) names: Names,
    pub(super) name_spans: Vec<Range<usize>>,
    pub(super) techs: TechTable,
    pub(super) agents: AgentTable,
    pub(super) input_start: Vec<u32>,
    pub(super) inputs: Vec<u32>,
    pub(super) params: Vec<f64>,
    pub(super) output_start: Vec<u32>,
    pub(super) outputs: Vec<(u32, f64)>,
    pub(super) spread: Vec<f64>,
    /// Firms counted (replicas included; entries whose production failed count 0).
    pub(super) total: u64,
    /// The largest `count` given (the last of equal ones), for the firm-cap message.
    pub(super) largest_count: Option<Int>,
    /// (firm in this batch, whether the problem comes after the duplicate-name check, problem)
    pub(super) problems: Vec<(u32, bool, Problem)>,
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }
    pub(crate) fn group_name(&self, i: usize) -> &str {
        &self.names[i]
    }
    /// Input edges and output slots of the batch's firms (replicas included).
    pub(super) fn edges_and_slots(&self) -> (u64, u64) {
        let per = |start: &[u32], i: usize| u64::from(start[i + 1] - start[i]);
        self.groups.iter().enumerate().fold((0, 0), |(e, s), (i, g)| {
            let n = u64::from(g.count);
            (e + n * per(&self.input_start, i), s + n * per(&self.output_start, i))
        })
    }
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_firm(
        &mut self,
        name: &str,
        name_span: Range<usize>,
        (count, productivity): (u32, f64),
        agent: AgentSettings,
        tech: Technology,
        inputs: &[usize],
        params: &[f64],
        outputs: &[(usize, f64)],
        spread: f64,
    ) {
        if self.input_start.is_empty() {
            self.input_start.push(0);
            self.output_start.push(0);
        }
        self.groups.push(FirmGroup {
            first: 0,
            count,
            technology: self.techs.add(tech),
            agent: self.agents.add(agent),
            productivity,
        });
        self.names.push(name);
        self.name_spans.push(name_span);
        self.inputs.extend(inputs.iter().map(|&g| g as u32));
        self.params.extend_from_slice(params);
        self.input_start.push(self.inputs.len() as u32);
        self.outputs.extend(outputs.iter().map(|&(g, w)| (g as u32, w)));
        self.output_start.push(self.outputs.len() as u32);
        self.spread.push(spread);
    }

    /// The bytes the batch holds (its arrays; the names, problems and tables roughly).
    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.groups.capacity() * size_of::<FirmGroup>()
            + self.names.bytes()
            + self.name_spans.capacity() * (size_of::<Range<usize>>() + 8)
            + (self.input_start.capacity() + self.inputs.capacity() + self.output_start.capacity()) * 4
            + (self.params.capacity() + self.spread.capacity()) * 8
            + self.outputs.capacity() * size_of::<(u32, f64)>()
    }

    /// Give back the spare capacity of the batch's arrays (they grew by doubling; the batches
    /// of all chunks are held until they are merged).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.groups.shrink_to_fit();
        self.names.shrink_to_fit();
        self.name_spans.shrink_to_fit();
        self.input_start.shrink_to_fit();
        self.inputs.shrink_to_fit();
        self.params.shrink_to_fit();
        self.output_start.shrink_to_fit();
        self.outputs.shrink_to_fit();
        self.spread.shrink_to_fit();
    }

    pub(super) fn note_count(&mut self, n: &Int) {
        if self.largest_count.as_ref().is_none_or(|m| n.value >= m.value) {
            self.largest_count = Some(n.clone());
        }
    }

    pub(super) fn record(&mut self, firm: u32, split: usize, problems: Vec<Problem>) {
        for (i, p) in problems.into_iter().enumerate() {
            self.problems.push((firm, i >= split, p));
        }
    }
}
