//! The bounded heap behind every exact top-k of the crate, with its tie rule.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::core::isa::dispatch;

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

/// Offers `scores[j] · scale[j]` as candidate `first_id + j` to `top`, in increasing id order
/// (exactly [`TopK::push`] for each). 16 scores at a time: one vectorised count says whether any of
/// them beats the threshold, and once the heap is full almost none does, so a search's scores are
/// mostly dismissed 16 per comparison.
#[inline(always)]
fn offer_scaled_impl(top: &mut TopK, scores: &[f32], scale: &[f32], first_id: u64) {
    let mut threshold = top.threshold();
    for (c16, (ch, sc)) in scores.chunks(16).zip(scale.chunks(16)).enumerate() {
        let entering: u32 = ch
            .iter()
            .zip(sc)
            .map(|(&s, &n)| !(s * n <= threshold) as u32)
            .sum();
        if entering == 0 {
            continue;
        }
        for (j, (&s, &n)) in ch.iter().zip(sc).enumerate() {
            let s = s * n;
            // `!(s <= threshold)`: NaN thresholds (heap not full) and NaN scores enter, as in push.
            if !(s <= threshold) {
                top.push(Candidate {
                    score: s,
                    id: first_id + (c16 * 16 + j) as u64,
                });
                threshold = top.threshold();
            }
        }
    }
}

dispatch!(offer_scaled, offer_scaled_avx2, offer_scaled_avx512, offer_scaled_impl, (top: &mut TopK, scores: &[f32], scale: &[f32], first_id: u64));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::isa::Isa;

    /// The vectorised offer keeps exactly what pushing every scaled score keeps, on every path,
    /// with ties, NaN and rows that are not whole vectors.
    #[test]
    fn offer_scaled_equals_pushing_each() {
        let scores: Vec<f32> = (0..203)
            .map(|i| match i {
                50 => f32::NAN,
                _ => ((i * 7919 % 97) as f32 - 48.0) / 10.0,
            })
            .collect();
        let scale: Vec<f32> = (0..203).map(|i| 0.5 + (i % 3) as f32 * 0.25).collect();
        for k in [0, 1, 5, 40, 300] {
            let mut want = TopK::new(k);
            for (j, (&s, &n)) in scores.iter().zip(&scale).enumerate() {
                want.push(Candidate {
                    score: s * n,
                    id: 1000 + j as u64,
                });
            }
            let want: Vec<(u64, u32)> = want
                .into_sorted()
                .iter()
                .map(|c| (c.id, c.score.to_bits()))
                .collect();
            for isa in Isa::supported() {
                let mut top = TopK::new(k);
                // In two calls, as a search offers block after block.
                offer_scaled_on(isa, &mut top, &scores[..77], &scale[..77], 1000);
                offer_scaled_on(isa, &mut top, &scores[77..], &scale[77..], 1077);
                let got: Vec<(u64, u32)> = top
                    .into_sorted()
                    .iter()
                    .map(|c| (c.id, c.score.to_bits()))
                    .collect();
                assert_eq!(got, want, "{isa}, k {k}");
            }
        }
    }

    fn offer_scaled_on(isa: Isa, top: &mut TopK, scores: &[f32], scale: &[f32], first_id: u64) {
        // SAFETY: each build runs only on a CPU that has its level.
        match isa {
            Isa::Scalar => offer_scaled_impl(top, scores, scale, first_id),
            Isa::Avx2 => unsafe { offer_scaled_avx2(top, scores, scale, first_id) },
            Isa::Avx512 | Isa::Amx => unsafe { offer_scaled_avx512(top, scores, scale, first_id) },
        }
    }
}
