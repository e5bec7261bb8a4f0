//! `[agents]` settings: how firms update their input plans (the behaviour lives in
//! [`crate::sim::agents`]).

/// How a firm updates its input plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A step along the firm's own profit gradient g = P dF/dx - p.
    Gradient,
    /// x <- x + rate (x* - x), x* the profit-maximising plan at current prices.
    BestResponse,
    /// Gradient with extrapolation: uses 2 g_t - g_{t-1}.
    Optimistic,
}

impl Rule {
    pub const NAMES: [&'static str; 3] = ["gradient", "best_response", "optimistic"];
    pub fn parse(s: &str) -> Option<Rule> {
        match s {
            "gradient" => Some(Rule::Gradient),
            "best_response" => Some(Rule::BestResponse),
            "optimistic" => Some(Rule::Optimistic),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Rule::Gradient => "gradient",
            Rule::BestResponse => "best_response",
            Rule::Optimistic => "optimistic",
        }
    }
}

/// The form of a gradient step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// x <- x * exp(rate * clip(g / p, -1, 1)): scale-free (the default).
    Relative,
    /// x <- max(x + rate * g, tiny).
    Additive,
}

impl Form {
    pub const NAMES: [&'static str; 2] = ["relative", "additive"];
    pub fn parse(s: &str) -> Option<Form> {
        match s {
            "relative" => Some(Form::Relative),
            "additive" => Some(Form::Additive),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Form::Relative => "relative",
            Form::Additive => "additive",
        }
    }
}

/// `[agents]` settings, possibly overridden per `[[firms]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    pub rule: Rule,
    pub rate: f64,
    pub form: Form,
    /// Relative observation noise on prices (standard deviation of a lognormal factor).
    pub noise: f64,
    /// Probability that the firm updates in a given tick.
    pub activation: f64,
}

impl AgentSettings {
    /// The settings of a firm when neither `[agents]` nor its `[[firms]]` entry says otherwise.
    pub const DEFAULT: AgentSettings = AgentSettings {
        rule: Rule::Gradient,
        rate: 0.5,
        form: Form::Relative,
        noise: 0.0,
        activation: 1.0,
    };
}
