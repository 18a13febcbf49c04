#!/usr/bin/env python3
"""scipy's paired t-test on seeded cases (tests/golden/ttest.json), the reference for
`sbert::evaluation::paired_t_test` / `RunComparison::t_test` (tests/significance.rs).

    pip install scipy==1.16.3 numpy
    python3 scripts/make_golden_ttest.py > tests/golden/ttest.json

Cases: per-query scores like nDCG (many 0 and 1, ties) for 300 and 111 queries, normal samples
of 2, 3, 10 and 1,000 pairs, a large effect (p far below 1e-9), a tiny one (p near 1), and the
zero-variance cases (scipy: ±inf with p = 0 for a constant difference, NaN for none).
"""
import json
import numpy as np
import scipy
from scipy import stats


def case(name, a, b):
    r = stats.ttest_rel(a, b)
    nan = lambda x: float(x) if np.isfinite(x) else str(float(x))  # "inf", "-inf", "nan"
    return {"name": name, "a": [float(x) for x in a], "b": [float(x) for x in b],
            "statistic": nan(r.statistic), "p_value": nan(r.pvalue), "df": float(r.df)}


rng = np.random.default_rng(42)
cases = []
for n in (300, 111):
    a = np.clip(rng.choice([0.0, 1.0, rng.random()], size=n, p=[0.3, 0.3, 0.4]), 0, 1)
    a = np.where(rng.random(n) < 0.4, rng.random(n), a)
    b = np.clip(a + rng.normal(0.01, 0.1, n) * (rng.random(n) < 0.3), 0, 1)
    cases.append(case(f"ndcg-like {n}", a, b))
for n in (2, 3, 10, 1000):
    a = rng.normal(0.5, 0.2, n)
    cases.append(case(f"normal {n}", a, a + rng.normal(0.02, 0.1, n)))
a = rng.normal(0, 1, 200)
cases.append(case("large effect", a + 1.0 + rng.normal(0, 0.3, 200), a))
cases.append(case("tiny effect", a + rng.normal(0, 1, 200) * 1e-3, a))
cases.append(case("constant difference", [1.0, 2.0, 3.0], [0.0, 1.0, 2.0]))
cases.append(case("no difference", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
print(json.dumps({"scipy": scipy.__version__, "cases": cases}, indent=1))
