//! Pearson and Spearman correlation (scipy semantics: Spearman = Pearson of average ranks) and
//! the paired tests between two systems' per-query scores: the t-test (`scipy.stats.ttest_rel`) and
//! Fisher's randomization test (`scipy.stats.permutation_test` on the pairs).

use crate::core::{Error, Result};

/// Pearson's r. Returns NaN when either side is constant or the lengths differ or are < 2.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n != y.len() || n < 2 {
        return f64::NAN;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let r = sxy / (sxx.sqrt() * syy.sqrt());
    r.clamp(-1.0, 1.0)
}

/// Ranks from 1, ties sharing their average rank (scipy's `rankdata(method="average")`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's ρ with average ranks for ties (`scipy.stats.spearmanr`).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.len() != y.len() {
        return f64::NAN;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// A paired t-test's result (`scipy.stats.ttest_rel(a, b)`): Student's t of the differences
/// `a − b`, its degrees of freedom and the two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TTest {
    /// t = mean(a − b) / (sd(a − b) / √n), sd with n − 1.
    pub statistic: f64,
    /// n − 1.
    pub df: f64,
    /// Two-sided p-value: the chance of a |t| at least this large if the two systems were equal.
    pub p_value: f64,
}

impl std::fmt::Display for TTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "paired t-test: t = {:.3} (df {}), p = {:.4}",
            self.statistic, self.df, self.p_value
        )
    }
}

/// The paired t-test of `a` against `b` (one value per query, same order), as
/// `scipy.stats.ttest_rel(a, b)`: NaN statistic and p-value when the lengths differ, when there
/// are fewer than 2 pairs or when no pair differs; ±inf with p = 0 when every pair differs by the
/// same amount.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> TTest {
    let nan = TTest {
        statistic: f64::NAN,
        df: f64::NAN,
        p_value: f64::NAN,
    };
    let n = a.len();
    if n != b.len() || n < 2 {
        return nan;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let df = (n - 1) as f64;
    if !var.is_finite() {
        return TTest { df, ..nan };
    }
    if var == 0.0 {
        // Every difference the same: scipy gives ±inf with p = 0, or NaN when they are all 0.
        return if mean == 0.0 {
            TTest { df, ..nan }
        } else {
            TTest {
                statistic: mean.signum() * f64::INFINITY,
                df,
                p_value: 0.0,
            }
        };
    }
    let t = mean / (var / n as f64).sqrt();
    // P(|T| ≥ |t|) = I_{df / (df + t²)}(df / 2, 1 / 2).
    let p = regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
    TTest {
        statistic: t,
        df,
        p_value: p.clamp(0.0, 1.0),
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ≈ 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
/// Lentz), on the side where it converges fast.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        for num in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + num * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + num / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The result of [`paired_randomization_test`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RandomizationTest {
    /// mean(a − b).
    pub mean_difference: f64,
    /// Two-sided p-value: the share of sign assignments whose |mean difference| is at least the
    /// observed one.
    pub p_value: f64,
    /// Sign assignments drawn (2ⁿ when exact).
    pub permutations: u64,
    /// Whether every one of the 2ⁿ assignments was enumerated.
    pub exact: bool,
}

impl std::fmt::Display for RandomizationTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "paired randomization test: mean difference {:+.4}, p = {:.4} ({} {} sign assignments)",
            self.mean_difference,
            self.p_value,
            if self.exact { "all" } else { "random" },
            self.permutations
        )
    }
}

/// Fisher's paired randomization (permutation) test of `a` against `b` (one value per query,
/// same order), the test Smucker, Allan & Carterette (2007) recommend for IR and `ranx.compare`
/// offers as `"fisher"`: under the null hypothesis each query's two scores could be swapped, so
/// the difference's sign is random. Exact — all 2ⁿ sign assignments, as
/// `scipy.stats.permutation_test(…, permutation_type="samples", n_resamples=np.inf)` — when 2ⁿ is
/// at most `permutations`; otherwise `permutations` random assignments from `seed`, with scipy's
/// `(count + 1) / (permutations + 1)`. Errors: lengths that differ, no pair, no permutation.
pub fn paired_randomization_test(
    a: &[f64],
    b: &[f64],
    permutations: u64,
    seed: u64,
) -> Result<RandomizationTest> {
    if a.len() != b.len() || a.is_empty() || permutations == 0 {
        return Err(Error::InvalidInput(format!(
            "a randomization test needs two equally long, non-empty samples and at least one \
             permutation: got {} and {} values, {permutations} permutations",
            a.len(),
            b.len()
        )));
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let observed = d.iter().sum::<f64>() / n as f64;
    // scipy's tolerance: a statistic within a relative 100 ε of the observed one counts as equal.
    let bar = observed.abs() * (1.0 - 100.0 * f64::EPSILON);
    let extreme = |signs: &mut dyn FnMut(usize) -> bool| -> bool {
        let s: f64 = d
            .iter()
            .enumerate()
            .map(|(i, &x)| if signs(i) { -x } else { x })
            .sum();
        (s / n as f64).abs() >= bar
    };
    let exact = n < 63 && (1u64 << n) <= permutations;
    let (count, total) = if exact {
        let total = 1u64 << n;
        let count = (0..total)
            .filter(|&mask| extreme(&mut |i| mask >> i & 1 == 1))
            .count() as u64;
        (count, total)
    } else {
        let mut rng = crate::core::Rng::new(seed);
        let mut count = 0u64;
        for _ in 0..permutations {
            let mut bits = 0u64;
            let mut left = 0;
            if extreme(&mut |_| {
                if left == 0 {
                    bits = rng.next_u64();
                    left = 64;
                }
                left -= 1;
                let b = bits & 1 == 1;
                bits >>= 1;
                b
            }) {
                count += 1;
            }
        }
        (count, permutations)
    };
    let p_value = if exact {
        count as f64 / total as f64
    } else {
        (count + 1) as f64 / (total + 1) as f64
    };
    Ok(RandomizationTest {
        mean_difference: observed,
        p_value,
        permutations: total,
        exact,
    })
}

/// [`paired_randomization_test`] with the budget a report uses: exact (all 2ⁿ sign swaps) up to
/// 20 queries, else 100,000 swaps drawn with seed 42 — what `RunComparison::randomization_test`
/// and `Report` run, so both give the same p-value for the same scores.
pub fn randomization_test_of(a: &[f64], b: &[f64]) -> Result<RandomizationTest> {
    let permutations = if a.len() <= 20 { 1 << 20 } else { 100_000 };
    paired_randomization_test(a, b, permutations, 42)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ranks_and_correlations() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 9.0, 16.0]) - 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]).statistic == 0.9486832980505138
        assert!(
            (spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]) - 0.9486832980505138).abs()
                < 1e-12
        );
    }
}
