//! The goods-firms graph of a validated economy: the goods-major index (who buys and who
//! sells each good) and the order of the firms, producers before users along endogenous goods
//! (a topological sort), or a cycle when there is none.

use crate::economy::{Firms, Goods};

/// Fill the goods-major index: buyers (input edges) and sellers (output slots) of each good.
pub fn index_goods(goods: &mut Goods, firms: &Firms) {
    let n = goods.len();
    let mut use_count = vec![0u32; n + 1];
    for &g in &firms.input_good {
        use_count[g as usize + 1] += 1;
    }
    let mut prod_count = vec![0u32; n + 1];
    for &g in &firms.output_good {
        prod_count[g as usize + 1] += 1;
    }
    for i in 0..n {
        use_count[i + 1] += use_count[i];
        prod_count[i + 1] += prod_count[i];
    }
    let mut use_edge = vec![0u32; firms.input_good.len()];
    let mut fill = use_count.clone();
    for (e, &g) in firms.input_good.iter().enumerate() {
        use_edge[fill[g as usize] as usize] = e as u32;
        fill[g as usize] += 1;
    }
    let mut prod_slot = vec![0u32; firms.output_good.len()];
    let mut fill = prod_count.clone();
    for (k, &g) in firms.output_good.iter().enumerate() {
        prod_slot[fill[g as usize] as usize] = k as u32;
        fill[g as usize] += 1;
    }
    goods.use_start = use_count;
    goods.use_edge = use_edge;
    goods.prod_start = prod_count;
    goods.prod_slot = prod_slot;
}

/// Firms ordered producers-before-users along endogenous goods, or a cycle as (good, firm
/// using it) pairs. The file's order when it is one (as in every generated economy and in
/// most written ones: checked in one pass), else the order of Kahn's algorithm on the
/// bipartite goods-firms graph.
pub fn topological_order(goods: &Goods, firms: &Firms) -> Result<Vec<u32>, Vec<(usize, usize)>> {
    if file_order_is_topological(goods, firms) {
        return Ok((0..firms.len() as u32).collect());
    }
    kahn_order(goods, firms)
}

/// Whether every firm comes after all producers of its endogenous inputs.
fn file_order_is_topological(goods: &Goods, firms: &Firms) -> bool {
    // the last producer of each good (u32::MAX: none), then each input against it
    let mut last = vec![u32::MAX; goods.len()];
    for (k, &g) in firms.output_good.iter().enumerate() {
        last[g as usize] = firms.output_firm[k];
    }
    firms.input_good.iter().zip(&firms.edge_firm).all(|(&g, &f)| {
        let p = last[g as usize];
        p == u32::MAX || p < f || goods.fixed[g as usize]
    })
}

/// [`topological_order`] by Kahn's algorithm.
fn kahn_order(goods: &Goods, firms: &Firms) -> Result<Vec<u32>, Vec<(usize, usize)>> {
    let n_f = firms.len();
    let n_g = goods.len();
    // slot -> firm for output slots
    let mut slot_firm = vec![0u32; firms.output_good.len()];
    for f in 0..n_f {
        for k in firms.outputs(f) {
            slot_firm[k] = f as u32;
        }
    }
    let mut good_pending: Vec<u32> = (0..n_g)
        .map(|g| {
            if goods.fixed[g] {
                0
            } else {
                goods.producers(g).len() as u32
            }
        })
        .collect();
    let mut firm_pending: Vec<u32> = (0..n_f)
        .map(|f| {
            firms
                .inputs(f)
                .filter(|&e| !goods.fixed[firms.input_good[e] as usize])
                .count() as u32
        })
        .collect();
    let mut order = Vec::with_capacity(n_f);
    let mut ready_goods: Vec<usize> = (0..n_g).filter(|&g| !goods.fixed[g] && good_pending[g] == 0).collect();
    let mut ready_firms: Vec<usize> = (0..n_f).filter(|&f| firm_pending[f] == 0).collect();
    ready_firms.reverse();
    loop {
        if let Some(f) = ready_firms.pop() {
            order.push(f as u32);
            for k in firms.outputs(f) {
                let g = firms.output_good[k] as usize;
                if !goods.fixed[g] {
                    good_pending[g] -= 1;
                    if good_pending[g] == 0 {
                        ready_goods.push(g);
                    }
                }
            }
        } else if let Some(g) = ready_goods.pop() {
            for &e in goods.uses(g) {
                let f = firms.edge_firm[e as usize] as usize;
                firm_pending[f] -= 1;
                if firm_pending[f] == 0 {
                    ready_firms.push(f);
                }
            }
        } else {
            break;
        }
    }
    if order.len() == n_f {
        return Ok(order);
    }
    // A cycle among the firms left: walk back from a blocked firm through a blocked input
    // good to one of its blocked producers until a firm repeats.
    let blocked: Vec<bool> = (0..n_f).map(|f| firm_pending[f] > 0).collect();
    let start = (0..n_f).find(|&f| blocked[f]).expect("a blocked firm exists");
    let mut seen = vec![usize::MAX; n_f];
    let mut path: Vec<(usize, usize)> = Vec::new();
    let mut f = start;
    loop {
        if seen[f] != usize::MAX {
            let mut cycle = path[seen[f]..].to_vec();
            // path holds (input good, firm) walking backwards; reverse into forward order
            cycle.reverse();
            let fwd: Vec<(usize, usize)> = cycle.iter().map(|&(g, user)| (g, user)).collect();
            return Err(fwd);
        }
        seen[f] = path.len();
        let (g, producer) = firms
            .inputs(f)
            .map(|e| firms.input_good[e] as usize)
            .filter(|&g| !goods.fixed[g] && good_pending[g] > 0)
            .find_map(|g| {
                goods
                    .producers(g)
                    .iter()
                    .map(|&k| slot_firm[k as usize] as usize)
                    .find(|&p| blocked[p])
                    .map(|p| (g, p))
            })
            .expect("a blocked firm has a blocked input with a blocked producer");
        path.push((g, f));
        f = producer;
    }
}

#[cfg(test)]
mod tests {
    use crate::economy::Economy;

    /// Whether `order` puts every firm after all producers of its endogenous inputs.
    fn is_topological(e: &Economy, order: &[u32]) -> bool {
        let (goods, firms) = (&e.goods, &e.firms);
        let mut place = vec![usize::MAX; firms.len()];
        for (i, &f) in order.iter().enumerate() {
            place[f as usize] = i;
        }
        let producers_of =
            |g: usize| (0..firms.len()).filter(move |&p| firms.outputs(p).any(|k| firms.output_good[k] as usize == g));
        place.iter().all(|&p| p != usize::MAX)
            && (0..firms.len()).all(|f| {
                firms.inputs(f).all(|edge| {
                    let g = firms.input_good[edge] as usize;
                    goods.fixed[g] || producers_of(g).all(|p| place[p] < place[f])
                })
            })
    }

    fn chain(firms_in_order: &[usize]) -> Economy {
        let firms = [
            ("A", "ethylene", "sqrt(natgas)"),
            ("B", "polyethylene", "1 - 1/(ethylene + 1)"),
            ("C", "tupperware", "ln(polyethylene)"),
        ];
        let mut text = String::from(
            "name = \"t\"\n[goods.natgas]\nendowment = 4.0\n[goods.ethylene]\n[goods.polyethylene]\n\
             [goods.tupperware]\nprice = 1.0\n",
        );
        for &i in firms_in_order {
            let (name, output, production) = firms[i];
            text += &format!("[[firms]]\nname = \"{name}\"\noutput = \"{output}\"\nproduction = \"{production}\"\n");
        }
        crate::scenario::load_str("t.toml", &text, &[], None).unwrap()
    }

    #[test]
    fn the_file_order_is_kept_when_it_is_topological_and_replaced_when_not() {
        let e = chain(&[0, 1, 2]);
        assert_eq!(e.firms.topo_order, [0, 1, 2]);
        for order in [[2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            let e = chain(&order);
            assert!(!is_topological(&e, &[0, 1, 2]), "{order:?}");
            assert!(
                is_topological(&e, &e.firms.topo_order),
                "{order:?}: {:?}",
                e.firms.topo_order
            );
        }
    }
}
