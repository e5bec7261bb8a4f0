//! Moving spans: [`Shift`] rewrites every file position in a parsed value, so that a chunk
//! (or the rest of the file, parsed as one small document) reports the positions the
//! whole file has.

use crate::scenario::format::*;
use indexmap::IndexMap;
use std::ops::Range;
use toml::Spanned;

/// Rewrite every file span of a parsed value; `m(offset, is_end)`.
pub(crate) trait Shift {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize);
}

fn shifted(r: Range<usize>, m: &dyn Fn(usize, bool) -> usize) -> Range<usize> {
    let start = m(r.start, false);
    start..m(r.end, true).max(start)
}

/// A cheap value to leave in a `Spanned` while its content moves.
trait Placeholder {
    fn placeholder() -> Self;
}

impl<T: Shift + Placeholder> Shift for Spanned<T> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        let span = shifted(self.span(), m);
        let mut v = std::mem::replace(self, Spanned::new(0..0, T::placeholder())).into_inner();
        v.shift(m);
        *self = Spanned::new(span, v);
    }
}

impl Shift for Origin {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        if let Origin::File(r) = self {
            *r = shifted(r.clone(), m);
        }
    }
}

impl Shift for Num {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.origin.shift(m)
    }
}
impl Shift for Int {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.origin.shift(m)
    }
}
impl Shift for Text {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.origin.shift(m)
    }
}
impl Shift for String {
    fn shift(&mut self, _: &dyn Fn(usize, bool) -> usize) {}
}
impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        if let Some(v) = self {
            v.shift(m)
        }
    }
}
impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        for v in self {
            v.shift(m)
        }
    }
}
impl<V: Shift> Shift for IndexMap<String, V> {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        for v in self.values_mut() {
            v.shift(m)
        }
    }
}

impl Placeholder for String {
    fn placeholder() -> Self {
        String::new()
    }
}
impl<T> Placeholder for Vec<T> {
    fn placeholder() -> Self {
        Vec::new()
    }
}
impl<V> Placeholder for IndexMap<String, V> {
    fn placeholder() -> Self {
        IndexMap::new()
    }
}
impl Placeholder for GoodSpec {
    fn placeholder() -> Self {
        GoodSpec::default()
    }
}
impl Placeholder for ProductionSpec {
    fn placeholder() -> Self {
        ProductionSpec::Expression(String::new())
    }
}
impl Placeholder for FirmSpec {
    fn placeholder() -> Self {
        FirmSpec {
            name: Spanned::new(0..0, String::new()),
            output: None,
            outputs: None,
            production: Spanned::new(0..0, ProductionSpec::placeholder()),
            count: None,
            productivity: None,
            productivity_spread: None,
            rule: None,
            rate: None,
            form: None,
            noise: None,
            activation: None,
            production_set: None,
        }
    }
}
impl Placeholder for ShockSpec {
    fn placeholder() -> Self {
        ShockSpec {
            tick: Int::default_value(0),
            good: None,
            price: None,
            endowment: None,
            firm: None,
            productivity: None,
        }
    }
}

impl Shift for GoodSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.price.shift(m);
        self.endowment.shift(m);
        self.initial_price.shift(m);
    }
}

impl Shift for FamilySpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        match self {
            FamilySpec::CobbDouglas { scale, exponents } => {
                scale.shift(m);
                exponents.shift(m);
            }
            FamilySpec::Ces {
                scale,
                rho,
                returns,
                weights,
            } => {
                scale.shift(m);
                rho.shift(m);
                returns.shift(m);
                weights.shift(m);
            }
            FamilySpec::Power { scale, exponent, input } => {
                scale.shift(m);
                exponent.shift(m);
                input.shift(m);
            }
            FamilySpec::Linear { coefficients } => coefficients.shift(m),
            FamilySpec::Leontief { scale, requirements } => {
                scale.shift(m);
                requirements.shift(m);
            }
        }
    }
}

impl Shift for ProductionSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        if let ProductionSpec::Family(f) = self {
            f.shift(m)
        }
    }
}

impl Shift for FirmSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.name.shift(m);
        self.output.shift(m);
        self.outputs.shift(m);
        self.production.shift(m);
        self.count.shift(m);
        self.productivity.shift(m);
        self.productivity_spread.shift(m);
        self.rule.shift(m);
        self.rate.shift(m);
        self.form.shift(m);
        self.noise.shift(m);
        self.activation.shift(m);
    }
}

impl Shift for ShockSpec {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.tick.shift(m);
        self.good.shift(m);
        self.price.shift(m);
        self.endowment.shift(m);
        self.firm.shift(m);
        self.productivity.shift(m);
    }
}

impl Shift for ScenarioFile {
    fn shift(&mut self, m: &dyn Fn(usize, bool) -> usize) {
        self.name.shift(m);
        self.version.shift(m);
        self.goods.shift(m);
        self.firms.shift(m);
        let MarketSpec {
            rule,
            step,
            initial_price,
        } = &mut self.market;
        rule.shift(m);
        step.shift(m);
        initial_price.shift(m);
        let AgentSpec {
            rule,
            rate,
            form,
            noise,
            activation,
        } = &mut self.agents;
        rule.shift(m);
        rate.shift(m);
        form.shift(m);
        noise.shift(m);
        activation.shift(m);
        let RunSpec {
            max_ticks,
            tolerance,
            patience,
            seed,
            check_tolerance,
        } = &mut self.run;
        max_ticks.shift(m);
        tolerance.shift(m);
        patience.shift(m);
        seed.shift(m);
        check_tolerance.shift(m);
        self.log.every.shift(m);
        self.log.goods.shift(m);
        self.shocks.shift(m);
        if let Some(s) = &mut self.sweep {
            s.params.shift(m);
            s.replicates.shift(m);
        }
    }
}
