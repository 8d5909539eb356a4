import math

import pytest

import numpy as np

from cbam_helpers.evidence.comparisons import interval_half_width
from cbam_helpers.evidence.analysis import (accuracy_table, first_or_last, sampling_error, seeds_for,
                                   seeds_needed, stopping_rules, two_way)


from fakes import A, B, runs


def table_records(rows):
    """``rows``: {configuration: [accuracy per seed]}."""
    return [r for configuration, values in rows.items() for r in runs(configuration, values)]


def test_sampling_error_is_the_binomial_standard_error():
    assert sampling_error(0.8) == pytest.approx(0.4)  # sqrt(0.8 * 0.2 / 10000) = 0.004
    assert sampling_error(80.0) == pytest.approx(0.4)
    assert sampling_error(0.5, 2_500) == pytest.approx(1.0)


def test_half_width_by_hand():
    # t(0.975, 3) = 3.182446...; sd 1, n 4: 3.182446 / 2
    assert interval_half_width(1.0, 4) == pytest.approx(3.1824463 / 2, abs=1e-6)
    assert interval_half_width(1.0, 4, df=9) == pytest.approx(2.2621572 / 2, abs=1e-6)
    assert interval_half_width(1.0, 1) == math.inf


def test_seeds_needed_is_the_smallest_that_reaches_the_target():
    sd = 0.5
    n = seeds_needed(sd, 0.5)
    # t(0.975, n-1) * 0.5 / sqrt(n) <= 0.5  <=>  t(0.975, n-1) <= sqrt(n): first at n = 7 (2.447 <= 2.646; n = 6: 2.571 > 2.449)
    assert n == 7
    assert interval_half_width(sd, n) <= 0.5 < interval_half_width(sd, n - 1)
    # pooling over six configurations gives (k-1)(n-1) degrees of freedom: fewer seeds
    pooled = seeds_needed(sd, 0.5, configurations=6)
    assert pooled == 5  # t(0.975, 20) = 2.086 <= sqrt(5) = 2.236; n = 4: t(0.975, 15) = 2.131 > 2
    with pytest.raises(ValueError):
        seeds_needed(10.0, 0.01, most=50)
    with pytest.raises(ValueError):
        seeds_needed(1.0, 0.0)


def test_seeds_for_is_seeds_needed_or_infinity():
    assert seeds_for(0.5, 0.5) == 7  # the paired case above
    assert seeds_for(100.0, 0.01) == math.inf  # beyond a thousand seeds: said, not raised


def test_two_way_layout_by_hand():
    # seeds x configurations: a = [1, 2, 3], b = [2, 4, 3]
    records = table_records({A: [1, 2, 3], B: [2, 4, 3]})
    layout = two_way(records, [A, B])
    # grand 2.5; seed means 1.5, 3, 3; config means 2, 3
    # residuals a: 1-1.5-2+2.5=0, 2-3-2+2.5=-0.5, 3-3-2+2.5=0.5; b: the negatives
    assert layout.residuals[A.label].tolist() == pytest.approx([0.0, -0.5, 0.5])
    assert layout.df_error == 2
    assert layout.error_variance == pytest.approx(1.0 / 2)  # SS 0.25 * 4 = 1, over 2 df
    mean, (low, high) = layout.difference(A, B)
    assert mean == pytest.approx(1.0)
    half = 4.302653 * math.sqrt(2 * 0.5 / 3)  # t(0.975, 2) sqrt(2 MSE / n)
    assert (low, high) == pytest.approx((1 - half, 1 + half), abs=1e-5)
    # seed SS: 2 * ((1.5-2.5)^2 + 0.5^2 + 0.5^2) = 3; total SS: 2.25+0.25+0.25+0.25+2.25+0.25 = 5.5
    assert layout.seed_variance_share == pytest.approx(3 / 5.5)
    # MS seed = 3 / 2 = 1.5, MS error = 0.5, k = 2: (1.5 - 0.5) / (1.5 + 0.5) = 0.5
    assert layout.seed_correlation == pytest.approx(0.5)


def test_accuracy_table_keeps_seeds_with_every_configuration():
    records = table_records({A: [1, 2, 3], B: [2, 4]})
    assert accuracy_table(records, [A, B]).index.tolist() == [0, 1]
    assert accuracy_table(records).columns.tolist() == [A.label, B.label]
    with pytest.raises(ValueError, match="two seeds"):
        two_way(table_records({A: [1], B: [2]}), [A, B])


def test_seed_noise_pools_the_spread_within_configurations_by_hand():
    from cbam_helpers.engine.profiles import ANNEALED, CPU
    from cbam_helpers.display.tables import seed_noise
    from fakes import C, fake_record

    cpu = [fake_record(A, s, a, curve=[a - 2, a]) for s, a in enumerate([60.0, 62.0, 64.0])]
    cpu += [fake_record(B, s, a, curve=[a + 1, a]) for s, a in enumerate([61.0, 61.0])]
    cpu += [fake_record(C, 0, 70.0)]  # one seed: no spread, left out of the pooled SD
    annealed = [fake_record(A, s, a, profile=ANNEALED, curve=[a, a]) for s, a in enumerate([80.0, 80.2])]
    table = seed_noise({CPU: cpu, ANNEALED: annealed})
    # pooled variance: (2 * 4 + 1 * 0) / (2 + 1); A's variance is 4, B's 0
    assert table.loc[0, "std_accuracy"] == pytest.approx(math.sqrt(8 / 3))
    assert table.loc[0, "runs"] == 6 and table.loc[0, "last_epoch"] == "-1.00 to +2.00"
    assert table.loc[0, "sampling_error"] == pytest.approx(sampling_error(378 / 6))
    assert table.loc[1, "std_accuracy"] == pytest.approx(math.sqrt(0.02)) and table.loc[1, "last_epoch"] == "+0.00 to +0.00"
    assert seed_noise({CPU: [fake_record(A, 0, 60.0)]}).empty  # no configuration with two seeds


def test_first_or_last_by_hand():
    hits = np.array([[False, True, True], [False, False, False], [True, False, False]])
    assert first_or_last(hits).tolist() == [1, 2, 0]


def test_stopping_rules_peeking_at_p_misleads_where_a_width_rule_barely_does():
    rules = stopping_rules(0.6, half_width=0.6, first=3, most=12, trials=4000, seed=1)
    fixed, by_p, by_width = (rules.iloc[i] for i in range(3))
    wrong, holds = "share calling a gap that is not there", "share of intervals holding the true gap"
    assert fixed["seeds used (mean)"] == seeds_needed(0.6, 0.6) == 7
    assert all(row[wrong] + row[holds] == pytest.approx(1.0) for row in (fixed, by_p, by_width))
    # a plan fixed before the runs keeps its 95% (4000 studies: a binomial SE of 0.0034)
    assert abs(fixed[holds] - 0.95) < 0.015
    # ten looks at p make a false gap far likelier than the 5% of one look (Armitage, McPherson and Rowe, 1969)
    assert by_p[wrong] > 0.12
    # stopping on the width ignores where the mean lies: it costs a little coverage (it stops where the SD of a
    # few seeds happens to be small) and fewer seeds than the plan
    assert 0.9 < by_width[holds] < fixed[holds] and by_width["seeds used (mean)"] < 7
    # one look only: every rule is the same study
    same = stopping_rules(0.6, first=5, most=5, trials=500)
    assert same["seeds used (mean)"].tolist() == [5, 5, 5] and same[holds].nunique() == 1
