//! The bounded heap behind every exact top-k of the crate, with its tie rule.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate in a ranking; `Ord` puts the **better** one first (higher score, then lower id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub score: f32,
    pub id: u64,
}
impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> Ordering {
        o.score.total_cmp(&self.score).then(self.id.cmp(&o.id))
    }
}

/// Keeps the best `k` candidates seen (a max-heap whose top is the worst kept one).
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
}
impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }
    #[inline]
    pub fn push(&mut self, c: Candidate) {
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if let Some(worst) = self.heap.peek() {
            if c < *worst {
                self.heap.pop();
                self.heap.push(c);
            }
        }
    }
    /// The score a new candidate must beat to enter: NaN while fewer than `k` are kept (no score
    /// compares `<=` to NaN, so every one enters), then the worst kept score. For a caller that
    /// offers candidates in increasing id order, a score equal to it loses the tie too, so
    /// `!(score <= threshold)` is exactly the test of [`TopK::push`].
    #[inline]
    pub fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => worst.score,
            _ => f32::NAN,
        }
    }
    /// Best first.
    pub fn into_sorted(self) -> Vec<Candidate> {
        self.heap.into_sorted_vec()
    }
}
