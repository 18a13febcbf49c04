#!/usr/bin/env python3
"""scipy's exact paired permutation test on seeded cases (tests/golden/randomization.json), the
reference for `sbert::evaluation::paired_randomization_test` (tests/significance.rs).

    pip install scipy numpy
    python3 scripts/make_golden_randomization.py > tests/golden/randomization.json

Each case: two samples a, b (one value per query) and scipy.stats.permutation_test's two-sided
p-value of mean(a - b) over all 2^n swaps of a query's two values (permutation_type="samples",
n_resamples=np.inf). Cases: normal samples of 5, 10 and 16 pairs, nDCG-like scores with ties
(many equal differences), a large effect, no difference at all, a constant difference.
"""
import json

import numpy as np
import scipy
from scipy import stats


def case(name, a, b):
    r = stats.permutation_test((np.asarray(a, float), np.asarray(b, float)),
                               lambda x, y, axis: np.mean(x - y, axis=axis),
                               permutation_type="samples", n_resamples=np.inf,
                               alternative="two-sided", vectorized=True)
    return {"name": name, "a": [float(x) for x in a], "b": [float(x) for x in b],
            "statistic": float(r.statistic), "p_value": float(r.pvalue)}


rng = np.random.default_rng(7)
cases = []
for n in (5, 10, 16):
    a = rng.normal(0.5, 0.2, n)
    cases.append(case(f"normal {n}", a, a + rng.normal(0.05, 0.1, n)))
a = rng.choice([0.0, 0.5, 1.0], size=14)
b = a.copy()
b[:5] = np.clip(b[:5] + 0.5, 0, 1)
b[7:9] = np.clip(b[7:9] - 0.5, 0, 1)
cases.append(case("ndcg-like ties 14", a, b))
a = rng.normal(0, 1, 12)
cases.append(case("large effect 12", a + 2.0, a))
cases.append(case("no difference 6", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
cases.append(case("constant difference 8", [1.0] * 8, [0.5] * 8))
print(json.dumps({"scipy": scipy.__version__, "cases": cases}, indent=1))
