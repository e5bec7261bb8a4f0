//! The economy to write: the firms in evaluation order with their goods' names and
//! productions, a copier for each value used more than once, and the price each good should
//! reach (the adjoints of reverse-mode differentiation), refusing a point where one would be 0.

use std::collections::{HashMap, HashSet};

use super::error::{fail, CompileError};
use super::grouping::{Compiler, Role};
use crate::production::expr::{Expr, Node, FUNCTION_NAMES};

/// A firm computing one operation (or merged operations).
pub(super) struct Firm {
    /// The top operation (its value is the firm's output).
    pub(super) node: usize,
    /// The output good.
    pub(super) output: String,
    /// The production, over the input goods' names.
    pub(super) production: String,
    /// The nodes whose values are its inputs, in the production's variable order.
    pub(super) inputs: Vec<usize>,
    /// Its output at the point.
    pub(super) value: f64,
    /// d output / d input at the point.
    pub(super) grad: Vec<f64>,
}

/// The compiled economy.
pub(super) struct Plan {
    /// The result good (`f` unless an input has that name).
    pub(super) result: String,
    /// The good of each input and of each firm's output (not the result), by node.
    pub(super) good: HashMap<usize, String>,
    pub(super) firms: Vec<Firm>,
    /// Values used by more than one firm: (value node, one copy per use).
    pub(super) copiers: Vec<(usize, Vec<String>)>,
    /// The firms using each value, in order.
    pub(super) used_by: HashMap<usize, Vec<usize>>,
    /// Price of each firm's output.
    pub(super) out_adj: Vec<f64>,
    /// Price of each (value, using firm): of the copy the firm gets.
    pub(super) use_adj: HashMap<(usize, usize), f64>,
}

impl Plan {
    /// The firms of the grouped operations `c`, over the inputs `vars`.
    pub(super) fn new(c: &Compiler, vars: &[String]) -> Result<Plan, CompileError> {
        let n = c.g.nodes.len();
        let root = c.g.root;
        // A bare variable as the result gets an identity firm.
        let identity = matches!(c.g.nodes[root], Node::Var(_));

        // --- names ------------------------------------------------------------------------------
        let mut names = Names(vars.iter().cloned().collect());
        let result = names.fresh("f");
        let mut good: HashMap<usize, String> = HashMap::new();
        for k in 0..n {
            if let Node::Var(i) = c.g.nodes[k] {
                good.insert(k, vars[i].clone());
            }
        }
        // firms in evaluation order: (top node, input nodes)
        let mut plan: Vec<(usize, Vec<usize>)> = Vec::new();
        for k in 0..n {
            if c.g.reachable[k] && c.role[k] == Role::Firm {
                let inputs = c.examine(k).expect("grouped firms are well-behaved");
                if k != root {
                    let name = names.fresh(&format!("v{}", plan.len() + 1));
                    good.insert(k, name);
                }
                plan.push((k, inputs));
            }
        }
        if identity {
            plan.push((root, vec![root]));
        }
        let mut used_by: HashMap<usize, Vec<usize>> = HashMap::new();
        for (f, (_, inputs)) in plan.iter().enumerate() {
            for &a in inputs {
                used_by.entry(a).or_default().push(f);
            }
        }
        let mut values: Vec<usize> = used_by.keys().copied().collect();
        values.sort_unstable();
        // copies: (value node, consumer firm) -> good name
        let mut copy_name: HashMap<(usize, usize), String> = HashMap::new();
        let mut copiers: Vec<(usize, Vec<String>)> = Vec::new();
        for &v in &values {
            let users = &used_by[&v];
            if users.len() > 1 {
                let base = good[&v].clone();
                let outs: Vec<String> = (1..=users.len()).map(|j| names.fresh(&format!("{base}_{j}"))).collect();
                for (&u, o) in users.iter().zip(&outs) {
                    copy_name.insert((v, u), o.clone());
                }
                copiers.push((v, outs));
            }
        }

        // --- the firms: production, forward value, gradient ---------------------------------
        let mut firms: Vec<Firm> = Vec::new();
        for (f, (k, inputs)) in plan.iter().enumerate() {
            let (k, inputs) = (*k, inputs.clone());
            let mut input_name = |a: usize| copy_name.get(&(a, f)).cloned().unwrap_or_else(|| good[&a].clone());
            let production = if identity {
                input_name(root)
            } else {
                c.production(k, &mut input_name)
            };
            let e = Expr::parse(&production).expect("compiled productions parse");
            debug_assert_eq!(e.variables().len(), inputs.len());
            let xs: Vec<f64> = inputs.iter().map(|&a| c.g.val[a]).collect();
            let mut gr = vec![0.0; xs.len()];
            let value = e.gradient(&xs, &mut gr);
            firms.push(Firm {
                node: k,
                output: if k == root { result.clone() } else { good[&k].clone() },
                production,
                inputs,
                value,
                grad: gr,
            });
        }
        // adjoints, backwards: each use's marginal value, and each value's total (its price)
        let mut out_adj = vec![0.0; firms.len()];
        let mut value_adj: HashMap<usize, f64> = HashMap::new();
        let mut use_adj: HashMap<(usize, usize), f64> = HashMap::new();
        for f in (0..firms.len()).rev() {
            let a_out = if firms[f].node == root {
                1.0
            } else {
                value_adj.get(&firms[f].node).copied().unwrap_or(0.0)
            };
            out_adj[f] = a_out;
            for (&a, &d) in firms[f].inputs.iter().zip(&firms[f].grad) {
                use_adj.insert((a, f), a_out * d);
                *value_adj.entry(a).or_insert(0.0) += a_out * d;
            }
        }
        let largest = value_adj.values().fold(1.0f64, |m, v| m.max(v.abs()));
        for &v in &values {
            let tiny = 1e-14 * largest;
            let zero_use = used_by[&v]
                .iter()
                .copied()
                .find(|&u| use_adj.get(&(v, u)).copied().unwrap_or(0.0) <= tiny);
            if let Some(u) = zero_use {
                let what = match c.g.nodes[v] {
                    Node::Var(i) => format!("the input {}", vars[i]),
                    _ => c.g.text(v),
                };
                let via = if used_by[&v].len() > 1 {
                    format!(" through its use in {}", c.g.text(firms[u].node))
                } else {
                    String::new()
                };
                return Err(fail(
                    format!(
                        "at the point the result does not depend on {what}{via} (the derivative is 0), so its market price would be 0, which a multiplicative market approaches without ever settling"
                    ),
                    "choose a point where every operation affects the result (e.g. not on the flat side of a min)",
                ));
            }
        }
        Ok(Plan {
            result,
            good,
            firms,
            copiers,
            used_by,
            out_adj,
            use_adj,
        })
    }
}

/// Unique good names: the inputs' own names first, then `base`, `base_2`, ... as needed.
struct Names(HashSet<String>);

impl Names {
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 2;
        while self.0.contains(&name) || FUNCTION_NAMES.contains(&name.as_str()) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.0.insert(name.clone());
        name
    }
}
