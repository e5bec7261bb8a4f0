//! The firms' plans over a window that may end a noisy run, and the bias of its mean prices:
//! per input edge, the sum of the plans over the current batch and over the window; at the end
//! of each batch, backprop at the batch's mean plans gives each good's gradient, and the
//! batch's bias `d_b = (mean price over the batch) - (adjoint at the batch's mean plans)` is
//! added to per-good batch sums ([`Batches`]), from which the bias's interval comes. At the
//! end, the window's mean plans are what the final checks backprop at.

use super::batches::{Batches, WindowStats};
use crate::check::diagnostics::Diagnostics;
use crate::economy::Economy;

/// The plans and the per-batch bias of one window.
#[derive(Debug, Clone)]
pub struct Plans {
    /// Per edge: the sum of the plans over the current batch.
    batch: Vec<f64>,
    /// Per edge: the sum of the closed batches' mean plans.
    window: Vec<f64>,
    /// Batches closed in the window.
    closed: usize,
    /// Whether a window is open.
    open: bool,
    bias: Batches,
    d: Vec<f64>,
}

impl Plans {
    /// For `edges` input edges and `n` goods, windows of `batches` batches.
    pub fn new(edges: usize, n: usize, batches: usize) -> Plans {
        Plans {
            batch: vec![0.0; edges],
            window: vec![0.0; edges],
            closed: 0,
            open: false,
            bias: Batches::new(n, batches),
            d: vec![0.0; n],
        }
    }

    /// Whether a window is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Open a window.
    pub fn start(&mut self) {
        self.batch.iter_mut().for_each(|v| *v = 0.0);
        self.window.iter_mut().for_each(|v| *v = 0.0);
        self.closed = 0;
        self.open = true;
    }

    /// Close the window (it did not end the run; a shock).
    pub fn stop(&mut self) {
        self.open = false;
    }

    /// Add one tick's plans (per edge).
    pub fn add(&mut self, x: &[f64]) {
        for (s, x) in self.batch.iter_mut().zip(x) {
            *s += x;
        }
    }

    /// Close the current batch of `b` ticks, in half `half` of the window: backprop at its
    /// mean plans (with `diagnostics`' buffers) and add the bias of good `goods[i]`, whose mean
    /// price over the batch is `batch_means[i]`.
    pub fn close(
        &mut self,
        b: u64,
        half: usize,
        economy: &Economy,
        diagnostics: &mut Diagnostics,
        goods: &[usize],
        batch_means: &[f64],
    ) {
        let inv = 1.0 / b as f64;
        self.batch.iter_mut().for_each(|v| *v *= inv);
        let adjoints = diagnostics.adjoints_at(economy, &self.batch);
        for (i, &g) in goods.iter().enumerate() {
            let m = batch_means[i];
            self.d[i] = m - adjoints.nearest(g, m);
        }
        if self.closed == 0 {
            let d = &self.d;
            self.bias.start(|i| d[i]);
        }
        for i in 0..goods.len() {
            self.bias.add_batch(i, self.d[i], half);
        }
        for (w, s) in self.window.iter_mut().zip(self.batch.iter_mut()) {
            *w += *s;
            *s = 0.0;
        }
        self.closed += 1;
    }

    /// The mean plans over the window's closed batches, per edge.
    pub fn mean_plans(&self) -> Vec<f64> {
        let k = self.closed.max(1) as f64;
        self.window.iter().map(|w| w / k).collect()
    }

    /// The bias of good `i` over the window (its batch means' statistics; the autocorrelation
    /// field is not meaningful here).
    pub fn bias(&self, i: usize) -> WindowStats {
        self.bias.stats(i, 1)
    }
}
