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

/// Firms ordered producers-before-users along endogenous goods (Kahn's algorithm on the
/// bipartite goods-firms graph), or a cycle as (good, firm using it) pairs.
pub fn topological_order(goods: &Goods, firms: &Firms) -> Result<Vec<u32>, Vec<(usize, usize)>> {
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
