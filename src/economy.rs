//! The economy: an immutable, validated goods graph (good h -> firm f -> good g) built from a
//! scenario, laid out for speed with millions of firms: struct-of-arrays, inputs and outputs
//! in compressed sparse rows (CSR), and a goods-major index of buyers and sellers so that
//! market sums need no locks.

use crate::agents::AgentSettings;
use crate::market::MarketSettings;
use crate::production::Technology;

/// The goods, struct-of-arrays.
#[derive(Debug, Clone, Default)]
pub struct Goods {
    pub name: Vec<String>,
    /// Fixed-price goods (final goods, outside inputs): the price never moves but by shocks.
    pub fixed: Vec<bool>,
    /// The fixed price, or the initial price of an endogenous good.
    pub price: Vec<f64>,
    /// Supply per tick from outside (0 for fixed-price goods).
    pub endowment: Vec<f64>,
    /// Buyers of each good: `use_edge[use_start[g]..use_start[g+1]]` are input edges.
    pub use_start: Vec<u32>,
    pub use_edge: Vec<u32>,
    /// Sellers of each good: `prod_slot[prod_start[g]..prod_start[g+1]]` index the output arrays.
    pub prod_start: Vec<u32>,
    pub prod_slot: Vec<u32>,
}

impl Goods {
    pub fn len(&self) -> usize {
        self.name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
    pub fn index(&self, name: &str) -> Option<usize> {
        self.name.iter().position(|n| n == name)
    }
    pub fn uses(&self, g: usize) -> &[u32] {
        &self.use_edge[self.use_start[g] as usize..self.use_start[g + 1] as usize]
    }
    pub fn producers(&self, g: usize) -> &[u32] {
        &self.prod_slot[self.prod_start[g] as usize..self.prod_start[g + 1] as usize]
    }
    /// Indices of the endogenous goods.
    pub fn endogenous(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&g| !self.fixed[g])
    }
}

/// One `[[firms]]` entry: `count` replicas sharing a technology and agent settings.
#[derive(Debug, Clone)]
pub struct FirmGroup {
    pub name: String,
    pub first: usize,
    pub count: usize,
    pub technology: usize,
    pub agent: AgentSettings,
    /// Base productivity (replicas multiply it by their own draw).
    pub productivity: f64,
}

/// The firms, struct-of-arrays, with input and output edges in CSR form.
#[derive(Debug, Clone, Default)]
pub struct Firms {
    pub group: Vec<u32>,
    /// Productivity multiplier on F (group base times the replica's seeded draw).
    pub productivity: Vec<f64>,
    pub input_start: Vec<u32>,
    pub input_good: Vec<u32>,
    /// Per-input family parameter (exponent, weight, coefficient, requirement; 1 for expressions).
    pub input_param: Vec<f64>,
    /// The firm owning each input edge.
    pub edge_firm: Vec<u32>,
    pub output_start: Vec<u32>,
    pub output_good: Vec<u32>,
    pub output_weight: Vec<f64>,
    /// The firm owning each output slot.
    pub output_firm: Vec<u32>,
    /// Producers before users (along endogenous goods).
    pub topo_order: Vec<u32>,
}

impl Firms {
    pub fn len(&self) -> usize {
        self.group.len()
    }
    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }
    pub fn inputs(&self, f: usize) -> std::ops::Range<usize> {
        self.input_start[f] as usize..self.input_start[f + 1] as usize
    }
    pub fn outputs(&self, f: usize) -> std::ops::Range<usize> {
        self.output_start[f] as usize..self.output_start[f + 1] as usize
    }
    pub fn edges(&self) -> usize {
        self.input_good.len()
    }
}

/// `[run]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    pub max_ticks: u64,
    pub tolerance: f64,
    pub patience: u64,
    pub seed: u64,
    pub check_tolerance: f64,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    pub every: u64,
    /// Endogenous goods to log (all when the scenario lists none; sampled when very many).
    pub goods: Vec<usize>,
}

impl LogSettings {
    /// Economies with at most this many input edges log every tick by default.
    pub const EVERY_TICK_EDGES: usize = 10_000;
    /// The default cadence of larger economies: measuring a tick (backprop, the potential,
    /// the rows) costs about seven ticks of the Cobb–Douglas kernel (callgrind, 1e4 firms),
    /// so logging every 100th costs about 7% of the run.
    pub const LARGE_EVERY: u64 = 100;
    /// At most this many goods go to `trajectory.csv` by default.
    pub const MAX_DEFAULT_GOODS: usize = 1000;

    /// The default `log.every` of an economy with `edges` input edges.
    pub fn default_every(edges: usize) -> u64 {
        if edges <= Self::EVERY_TICK_EDGES {
            1
        } else {
            Self::LARGE_EVERY
        }
    }

    /// The default `log.goods`: every endogenous good, or `MAX_DEFAULT_GOODS` of them spread
    /// evenly over the good indices (first and last included) when there are more.
    pub fn default_goods(endogenous: &[usize]) -> Vec<usize> {
        let (n, k) = (endogenous.len(), Self::MAX_DEFAULT_GOODS);
        if n <= k {
            return endogenous.to_vec();
        }
        (0..k).map(|i| endogenous[i * (n - 1) / (k - 1)]).collect()
    }
}

/// What a shock changes.
#[derive(Debug, Clone, PartialEq)]
pub enum ShockKind {
    Price { good: usize, price: f64 },
    Endowment { good: usize, endowment: f64 },
    Productivity { group: usize, productivity: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shock {
    pub tick: u64,
    pub kind: ShockKind,
    /// Short label for logs and charts, e.g. `tupperware.price=2`.
    pub label: String,
}

/// A validated economy and its run settings.
#[derive(Debug, Clone)]
pub struct Economy {
    pub name: String,
    pub description: String,
    pub goods: Goods,
    pub groups: Vec<FirmGroup>,
    pub technologies: Vec<Technology>,
    pub firms: Firms,
    pub market: MarketSettings,
    pub run: RunSettings,
    pub log: LogSettings,
    pub shocks: Vec<Shock>,
}

impl Economy {
    /// Display name of firm f: the group name, with `#r` for replica r of a group of several.
    pub fn firm_name(&self, f: usize) -> String {
        let g = &self.groups[self.firms.group[f] as usize];
        if g.count == 1 {
            g.name.clone()
        } else {
            format!("{}#{}", g.name, f - g.first + 1)
        }
    }

    pub fn technology(&self, f: usize) -> &Technology {
        &self.technologies[self.groups[self.firms.group[f] as usize].technology]
    }

    pub fn agent(&self, f: usize) -> &AgentSettings {
        &self.groups[self.firms.group[f] as usize].agent
    }

    /// Revenue per unit of F for firm f at the given prices: P_f = sum_g w_fg p_g.
    pub fn revenue(&self, f: usize, prices: &[f64]) -> f64 {
        self.firms
            .outputs(f)
            .map(|k| self.firms.output_weight[k] * prices[self.firms.output_good[k] as usize])
            .sum()
    }

    /// Whether every endogenous good has at most one buying firm (chains and trees), so that
    /// the planner's allocation is the forward pass from the endowments.
    pub fn is_tree(&self) -> bool {
        self.goods.endogenous().all(|g| self.goods.uses(g).len() <= 1)
    }

    /// Whether any firm buys a fixed-price good (then quantities are chosen, not forwarded).
    pub fn has_fixed_price_inputs(&self) -> bool {
        self.firms.input_good.iter().any(|&g| self.goods.fixed[g as usize])
    }

    /// Output of firm f at input plan `x` (its own slice): productivity * F(x).
    pub fn output(&self, f: usize, x: &[f64]) -> f64 {
        let r = self.firms.inputs(f);
        self.firms.productivity[f] * self.technology(f).value(x, &self.firms.input_param[r])
    }
}
