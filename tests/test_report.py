import math

import pandas as pd
import pytest

from cbam_helpers.experiments import POST_ACCURACY, compare_with_post
from cbam_helpers.report import (compare, comparison_table, convergence_note, extra_channel_scores, finding,
                                 gap_statement, provenance, recovered_share, run_time_note, signal_statement,
                                 t_quantile, two_sided_p)


def record(label, loc, seed, accuracy, data="CIFAR-10 archive cifar10-jpeg.tar.gz"):
    profile = dict(name="cpu", resolution=64, batch_size=32, lr=0.01, epochs=6, train_images=20_000,
                   test_images=None, momentum=0.9)
    return dict(label=label, test_accuracy=accuracy, data=data, device="cpu (2 threads)", torch="2.x",
                wall_seconds=600.0, finished="2026-11-24T20:00:00+0000",
                config=dict(attention_loc=loc, noise_channels=0, seed=seed, reduction_ratio=1.0, profile=profile))


def runs(label, accuracies, loc="none"):
    return [record(label, loc, seed, a / 100) for seed, a in enumerate(accuracies)]


def test_student_t_against_closed_forms():
    # df = 1 is Cauchy: quantile tan(pi (p - 1/2)); df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), abs=1e-9)
    assert t_quantile(0.975, 2) == pytest.approx(0.95 * math.sqrt(2 / (1 - 0.95**2)), abs=1e-9)
    assert two_sided_p(2.0, 2) == pytest.approx(2 * (0.5 - 2 / (2 * math.sqrt(6))), abs=1e-12)
    assert two_sided_p(1.0, 1) == pytest.approx(0.5, abs=1e-12)  # Cauchy: P(|T| > 1) = 1/2
    assert t_quantile(0.975, 1000) == pytest.approx(1.962, abs=1e-3)  # close to the normal's 1.960


def test_paired_interval_by_hand():
    # differences seed by seed: +1, +2, +0.5
    records = runs("a", [60, 62, 61]) + runs("b", [61, 64, 61.5], "last")
    c = compare(records, "a", "b")
    assert c.seeds == (0, 1, 2) and c.differences == pytest.approx((1, 2, 0.5))
    assert c.mean == pytest.approx(7 / 6)
    sd = math.sqrt(((1 - 7 / 6) ** 2 + (2 - 7 / 6) ** 2 + (0.5 - 7 / 6) ** 2) / 2)
    assert c.sd == pytest.approx(sd) and c.se == pytest.approx(sd / math.sqrt(3))
    half = 4.302653 * sd / math.sqrt(3)  # t(0.975, 2 df) from a table
    assert c.interval == pytest.approx((7 / 6 - half, 7 / 6 + half), abs=1e-5)
    t = (7 / 6) / (sd / math.sqrt(3))
    assert c.p_value == pytest.approx(2 * (0.5 - t / (2 * math.sqrt(2 + t * t))), abs=1e-6)
    assert c.verdict == "undecided"
    text = gap_statement(records, "a", "b")
    assert "+1.17 points" in text and "seeds 0, 1, 2: +1.00, +2.00, +0.50" in text
    assert "cannot tell" in text and "`cpu` profile" in text


def test_pairing_tightens_what_the_spread_of_single_runs_would_not():
    # seeds move both runs together; the treatment is 1 point better at every seed
    records = runs("a", [58, 62, 66]) + runs("b", [59.1, 62.9, 67.0], "last")
    c = compare(records, "a", "b")
    assert c.verdict == "better" and c.interval[0] > 0
    assert "excludes zero" in gap_statement(records, "a", "b") and "scores better" in gap_statement(records, "a", "b")


def test_only_common_seeds_are_paired():
    records = runs("a", [60, 61, 62]) + runs("b", [61, 62], "last")
    assert compare(records, "a", "b").seeds == (0, 1)


def test_two_seeds_cannot_decide():
    text = gap_statement(runs("a", [60, 61]) + runs("b", [63, 62], "last"), "a", "b")
    assert "two seeds cannot decide" in text and "one degree of freedom" in text and "includes zero" in text


def test_one_seed_has_no_interval():
    text = gap_statement(runs("a", [60]) + runs("b", [61.5], "last"), "a", "b")
    assert "+1.50 points" in text and "one seed" in text
    assert compare(runs("a", [60]) + runs("b", [61.5], "last"), "a", "b").verdict == "one seed"


def test_a_vanishing_gap_keeps_its_sign_and_is_called_zero():
    text = gap_statement(runs("a", [60.004, 61.004]) + runs("b", [60.0, 61.0], "last"), "a", "b")
    assert "-0.00 points (zero to two decimals)" in text


def test_unknown_label_is_named():
    with pytest.raises(ValueError, match="no record of 'c'"):
        compare(runs("a", [60]), "a", "c")


def test_comparison_table_and_recovered_share():
    records = runs("clean", [62, 63, 64]) + runs("noisy", [58, 59, 60], "none") + runs("gated", [59, 60, 61], "first")
    table = comparison_table(records, [("noise hurts", "clean", "noisy"), ("gate recovers", "noisy", "gated")])
    assert list(table["n"]) == [3, 3] and table["mean_difference"].tolist() == pytest.approx([-4, 1])
    assert list(table["verdict"]) == ["worse", "better"]  # zero spread: the interval is a point
    assert recovered_share(records, "clean", "noisy", "gated") == pytest.approx(0.25)


def test_compare_with_post():
    records = [record("none, RGB", "none", 0, 0.60), record("none, RGB", "none", 1, 0.62),
               record("last, RGB", "last", 0, 0.63)]
    frame = compare_with_post(records).set_index("configuration")
    assert frame.loc["none, RGB", "post_reported"] == POST_ACCURACY["none, RGB"] == 84.53
    assert frame.loc["none, RGB", "mean_accuracy"] == 61.0 and frame.loc["none, RGB", "n"] == 2
    assert frame.loc["none, RGB", "per_seed"] == "60.00, 62.00"
    assert frame.loc["last, RGB", "data"] == "archive cifar10-jpeg.tar.gz"
    assert frame.loc["last, RGB", "profile"] == "cpu"


def test_provenance_names_profile_seeds_device_and_data():
    text = provenance([record("none, RGB", "none", 0, 0.6), record("none, RGB", "none", 1, 0.6)])
    for words in ("`cpu` profile", "64x64", "20,000 training", "all test images", "seeds 0, 1",
                  "cpu (2 threads)", "20 minutes", "cifar10-jpeg.tar.gz"):
        assert words in text


def test_convergence_and_run_time_notes():
    records = runs("a", [60, 61])
    for r, accuracies in zip(records, ([0.50, 0.57, 0.60], [0.55, 0.58, 0.61])):
        r["history"] = [dict(test_accuracy=a) for a in accuracies]
    records[1]["wall_seconds"] = 900.0
    assert "still moved by +3.00 to +3.00 points" in convergence_note(records)
    assert "had not converged" in convergence_note(records)
    assert "this profile only" in convergence_note(records)
    assert "took 10 to 15 minutes" in run_time_note(records)


def test_finding_names_interval_and_what_it_allows():
    records = runs("a", [60, 62, 61]) + runs("b", [61, 64, 61.5], "last")
    line = finding(records, "b - a", "a", "b")
    assert line.startswith("b - a: +1.17 points, 95% interval [") and "over 3 seeds" in line
    assert "cannot tell the two apart" in line
    tight = runs("a", [58, 62, 66]) + runs("b", [59.1, 62.9, 67.0], "last")
    assert "excludes zero: `b` scores higher" in finding(tight, "b - a", "a", "b")
    assert "excludes zero: `a` scores lower" in finding(tight, "a - b", "b", "a")
    assert "observation, not a finding" in finding(runs("a", [60]) + runs("b", [61], "last"), "b - a", "a", "b")


def gated(seed, rho, score):
    r = record("first", "first", seed, 0.6)
    r["config"].update(noise_channels=3, **({"signal": rho} if rho else {}))
    r["attention"] = [0.9, 0.9, 0.9, score, score, score]
    return r


def test_extra_channel_scores_and_signal_statement_by_hand():
    records = [gated(0, 0.0, 0.01), gated(0, 0.5, 0.1), gated(0, 1.0, 0.5),
               gated(1, 0.0, 0.02), gated(1, 0.5, 0.05), gated(1, 1.0, 0.3)]
    frame = extra_channel_scores(records)
    assert sorted(frame["rho"].unique()) == [0.0, 0.5, 1.0] and frame["score"].sum() == pytest.approx(0.98)
    text = signal_statement(records)
    assert "0.015 at rho 0, 0.075 at rho 0.5, 0.400 at rho 1" in text
    assert "rises at every step of rho in 2 of the 2 seeds" in text
    # differences 0.49 and 0.28: mean 0.385, sd 0.21 / sqrt(2), half-width t(0.975, 1) = 12.7062 times sd / sqrt(2)
    assert "+0.385, 95% interval [-0.949, +1.719], which holds zero" in text
    records[4]["attention"][3:] = [0.01] * 3  # seed 1 now dips at rho 0.5
    assert "in 1 of the 2 seeds" in signal_statement(records)
    assert "nothing to compare" in signal_statement(records[:1])
