//! The economy: an immutable, validated goods graph (good h -> firm f -> good g) built from a
//! scenario, laid out for speed with millions of firms: struct-of-arrays, inputs and outputs
//! in compressed sparse rows (CSR), and a goods-major index of buyers and sellers so that
//! market sums need no locks.

pub mod agent_settings;
pub mod market_settings;

use crate::production::Technology;
use agent_settings::AgentSettings;
use market_settings::MarketSettings;

/// A list of names in one arena: name i is `text[end[i - 1]..end[i]]`. One allocation for
/// all of them instead of one `String` (24 bytes and a heap block of 32 or more) per name:
/// at millions of goods and firms the difference is tens of bytes per edge.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Names {
    text: String,
    end: Vec<u32>,
}

impl Names {
    pub fn new() -> Names {
        Names::default()
    }
    /// Room for `names` more names of `bytes` bytes in all.
    pub fn reserve(&mut self, names: usize, bytes: usize) {
        self.end.reserve_exact(names);
        self.text.reserve_exact(bytes);
    }
    pub fn len(&self) -> usize {
        self.end.len()
    }
    pub fn is_empty(&self) -> bool {
        self.end.is_empty()
    }
    /// Bytes of all the names together.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }
    pub fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.end
            .push(u32::try_from(self.text.len()).expect("names take at most 4 GiB in all"));
    }
    /// Append the names of `other`, in order.
    pub fn append(&mut self, other: &Names) {
        other.iter().for_each(|n| self.push(n));
    }
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.end.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.end[i - 1] as usize };
        Some(&self.text[start..end])
    }
    pub fn iter(&self) -> NamesIter<'_> {
        NamesIter {
            names: self,
            range: 0..self.len(),
        }
    }
    /// Position of the first name equal to `name` (a linear search).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.iter().position(|n| n == name)
    }
    /// Give back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.end.shrink_to_fit();
    }
}

impl std::ops::Index<usize> for Names {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(n) => n,
            None => panic!("name {i} of {}", self.len()),
        }
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> FromIterator<&'a str> for Names {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Names {
        let mut names = Names::new();
        iter.into_iter().for_each(|n| names.push(n));
        names
    }
}

impl<'a> IntoIterator for &'a Names {
    type Item = &'a str;
    type IntoIter = NamesIter<'a>;
    fn into_iter(self) -> NamesIter<'a> {
        self.iter()
    }
}

/// The names of a [`Names`], in order.
#[derive(Clone)]
pub struct NamesIter<'a> {
    names: &'a Names,
    range: std::ops::Range<usize>,
}

impl<'a> Iterator for NamesIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        self.range.next().map(|i| &self.names[i])
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }
}

impl DoubleEndedIterator for NamesIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().map(|i| &self.names[i])
    }
}

impl ExactSizeIterator for NamesIter<'_> {}

/// As a list of strings.
impl serde::Serialize for Names {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The goods, struct-of-arrays.
#[derive(Debug, Clone, Default)]
pub struct Goods {
    pub name: Names,
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
        self.name.position(name)
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

/// One `[[firms]]` entry: `count` replicas (firms `first..first + count`) sharing a
/// technology and agent settings. Its name is [`Economy::group_name`]. Compact (24 bytes),
/// since generated economies have one entry per firm.
#[derive(Debug, Clone, PartialEq)]
pub struct FirmGroup {
    pub first: u32,
    pub count: u32,
    /// Index into [`Economy::technologies`].
    pub technology: u32,
    /// Index into [`Economy::agents`].
    pub agent: u32,
    /// Base productivity (replicas multiply it by their own draw).
    pub productivity: f64,
}

impl FirmGroup {
    /// The group's firms.
    pub fn firms(&self) -> std::ops::Range<usize> {
        self.first as usize..(self.first + self.count) as usize
    }
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

/// `[log] format`: the files a run writes its tables into (`--format` wins over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Csv,
    Parquet,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    /// `[log] format`, when the scenario gives it.
    pub format: Option<LogFormat>,
    pub every: u64,
    /// `every` is a default: runs of more than [`LogSettings::THIN_AFTER`] logged ticks log
    /// more sparsely after that ([`LogSettings::logs`]). False when the scenario, `--set` or
    /// `--log-every` gave `log.every`: then every `every`-th tick is logged, however long the
    /// run.
    pub thin: bool,
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

    /// Logged ticks at the default cadence before a long run is thinned.
    pub const THIN_AFTER: u64 = 10_000;
    /// A thinned run logs about this many ticks in all (and the ticks of shocks and its end).
    pub const MAX_LOGGED: u64 = 20_000;

    /// Whether a run of at most `max_ticks` ticks logs tick `tick` (shocks and the last tick
    /// are logged besides). Every `every`-th tick; with a default cadence (`thin`) and a run
    /// long enough to log more than [`Self::MAX_LOGGED`] ticks, the first
    /// [`Self::THIN_AFTER`] of them, then every `k * every`-th tick with the smallest `k` that
    /// keeps the total within [`Self::MAX_LOGGED`], so the files stay bounded for any
    /// `run.max_ticks`.
    pub fn logs(&self, tick: u64, max_ticks: u64) -> bool {
        let every = self.every.max(1);
        let full = Self::THIN_AFTER * every;
        if !self.thin || tick < full {
            return tick.is_multiple_of(every);
        }
        let rest = max_ticks.saturating_sub(full).div_ceil(every);
        let k = rest.div_ceil(Self::MAX_LOGGED - Self::THIN_AFTER).max(1);
        tick.is_multiple_of(k * every)
    }

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
    /// The name of each group (`[[firms]]` entry).
    pub group_names: Names,
    pub technologies: Vec<Technology>,
    /// The distinct agent settings of the groups.
    pub agents: Vec<AgentSettings>,
    pub firms: Firms,
    pub market: MarketSettings,
    pub run: RunSettings,
    pub log: LogSettings,
    pub shocks: Vec<Shock>,
}

impl Economy {
    /// Display name of firm f: the group name, with `#r` for replica r of a group of several.
    pub fn firm_name(&self, f: usize) -> String {
        let gi = self.firms.group[f] as usize;
        let (g, name) = (&self.groups[gi], &self.group_names[gi]);
        if g.count == 1 {
            name.to_string()
        } else {
            format!("{name}#{}", f - g.first as usize + 1)
        }
    }

    /// The name of group (`[[firms]]` entry) `g`.
    pub fn group_name(&self, g: usize) -> &str {
        &self.group_names[g]
    }

    /// The agent settings of group `g`.
    pub fn group_agent(&self, g: usize) -> &AgentSettings {
        &self.agents[self.groups[g].agent as usize]
    }

    /// The technology of group `g`.
    pub fn group_technology(&self, g: usize) -> &Technology {
        &self.technologies[self.groups[g].technology as usize]
    }

    pub fn technology(&self, f: usize) -> &Technology {
        self.group_technology(self.firms.group[f] as usize)
    }

    pub fn agent(&self, f: usize) -> &AgentSettings {
        self.group_agent(self.firms.group[f] as usize)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_one_arena() {
        let mut n: Names = ["natgas", "", "\u{e9}thyl\u{e8}ne", "natgas"].into_iter().collect();
        assert_eq!(n.len(), 4);
        assert_eq!((&n[0], &n[1], &n[2]), ("natgas", "", "\u{e9}thyl\u{e8}ne"));
        assert_eq!(n.get(4), None);
        assert_eq!(n.position("natgas"), Some(0));
        assert_eq!(n.position("tupperware"), None);
        assert_eq!(n.iter().rev().nth(1), Some("\u{e9}thyl\u{e8}ne"));
        assert_eq!(n.iter().len(), 4);
        assert_eq!(
            format!("{n:?}"),
            format!("{:?}", ["natgas", "", "\u{e9}thyl\u{e8}ne", "natgas"])
        );
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            "[\"natgas\",\"\",\"\u{e9}thyl\u{e8}ne\",\"natgas\"]"
        );
        let more: Names = ["x"].into_iter().collect();
        n.append(&more);
        assert_eq!(
            n.iter().collect::<Vec<_>>(),
            ["natgas", "", "\u{e9}thyl\u{e8}ne", "natgas", "x"]
        );
        assert_eq!(n.bytes(), 6 + 10 + 6 + 1);
        assert!(Names::new().is_empty());
    }
}

#[cfg(test)]
mod log_tests {
    use super::LogSettings;

    fn logged(log: &LogSettings, max_ticks: u64) -> u64 {
        (0..max_ticks).filter(|&t| log.logs(t, max_ticks)).count() as u64
    }

    #[test]
    fn default_cadence_is_thinned_to_a_bounded_count_explicit_is_not() {
        for every in [1, 100] {
            let thin = LogSettings {
                format: None,
                every,
                thin: true,
                goods: vec![],
            };
            // runs that log at most MAX_LOGGED ticks log every every-th tick
            let short = LogSettings::MAX_LOGGED * every;
            assert!((0..short).all(|t| thin.logs(t, short) == t.is_multiple_of(every)));
            // longer runs: the first THIN_AFTER logged ticks, then sparser, never over the bound
            for max_ticks in [short + 1, 3 * short, 1_000_000 * every, 50_000_000] {
                let n = logged(&thin, max_ticks);
                assert!(
                    n <= LogSettings::MAX_LOGGED + 1,
                    "every {every}, {max_ticks} ticks: {n}"
                );
                assert!(n >= LogSettings::THIN_AFTER, "every {every}, {max_ticks} ticks: {n}");
                assert!(
                    (0..LogSettings::THIN_AFTER * every).all(|t| thin.logs(t, max_ticks) == t.is_multiple_of(every))
                );
            }
            let explicit = LogSettings { thin: false, ..thin };
            assert_eq!(logged(&explicit, 3 * short), 3 * LogSettings::MAX_LOGGED);
        }
    }
}
