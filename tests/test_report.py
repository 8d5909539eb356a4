import math

import pytest

from cbam_helpers.engine.configs import FIRST_ON_GRAY, FIRST_ON_NOISE, LAST
from cbam_helpers.evidence.comparisons import compare, t_quantile, two_sided_p
from cbam_helpers.display.tables import comparison_table, extra_channel_scores, provenance, show, summary
from fakes import A, B, C, CLEAN, GATED, NOISY, fake_record, runs


def test_student_t_against_closed_forms():
    # df = 1 is Cauchy: quantile tan(pi (p - 1/2)); df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), abs=1e-9)
    assert t_quantile(0.975, 2) == pytest.approx(0.95 * math.sqrt(2 / (1 - 0.95**2)), abs=1e-9)
    assert two_sided_p(2.0, 2) == pytest.approx(2 * (0.5 - 2 / (2 * math.sqrt(6))), abs=1e-12)
    assert two_sided_p(1.0, 1) == pytest.approx(0.5, abs=1e-12)  # Cauchy: P(|T| > 1) = 1/2
    assert t_quantile(0.975, 1000) == pytest.approx(1.962, abs=1e-3)  # close to the normal's 1.960


def test_paired_interval_by_hand():
    # differences seed by seed: +1, +2, +0.5
    records = runs(A, [60, 62, 61]) + runs(B, [61, 64, 61.5])
    c = compare(records, A, B)
    assert c.seeds == (0, 1, 2) and c.differences == pytest.approx((1, 2, 0.5))
    assert c.mean == pytest.approx(7 / 6)
    sd = math.sqrt(((1 - 7 / 6) ** 2 + (2 - 7 / 6) ** 2 + (0.5 - 7 / 6) ** 2) / 2)
    assert c.sd == pytest.approx(sd) and c.se == pytest.approx(sd / math.sqrt(3))
    half = 4.302653 * sd / math.sqrt(3)  # t(0.975, 2 df) from a table
    assert c.interval == pytest.approx((7 / 6 - half, 7 / 6 + half), abs=1e-5)
    t = (7 / 6) / (sd / math.sqrt(3))
    assert c.p_value == pytest.approx(2 * (0.5 - t / (2 * math.sqrt(2 + t * t))), abs=1e-6)
    assert c.verdict == "undecided"
    # differences -0.2, 0, +0.2: half-width t(0.975, 2) * 0.2 / sqrt(3) = 0.50
    narrow = compare(runs(A, [80.0, 80.0, 80.0]) + runs(B, [79.8, 80.0, 80.2]), A, B)
    assert narrow.interval_text == "[-0.50, +0.50]"


def test_prediction_interval_of_one_more_seed_by_hand():
    c = compare(runs(A, [60, 62, 61]) + runs(B, [61, 64, 61.5]), A, B)  # differences +1, +2, +0.5
    half = 4.302653 * c.sd * math.sqrt(1 + 1 / 3)  # t(0.975, 2) * sd * sqrt(1 + 1/n)
    assert c.prediction_interval == pytest.approx((7 / 6 - half, 7 / 6 + half), abs=1e-5)
    assert c.interval_at(0.90) == pytest.approx((7 / 6 - 2.919986 * c.se, 7 / 6 + 2.919986 * c.se), abs=1e-5)
    assert all(math.isnan(x) for x in compare(runs(A, [60]) + runs(B, [61]), A, B).prediction_interval)


def test_pairing_tightens_what_the_spread_of_single_runs_would_not():
    # seeds move both runs together; the treatment is 1 point better at every seed
    records = runs(A, [58, 62, 66]) + runs(B, [59.1, 62.9, 67.0])
    c = compare(records, A, B)
    assert c.verdict == "higher" and c.interval[0] > 0


def test_only_common_seeds_are_paired():
    records = runs(A, [60, 61, 62]) + runs(B, [61, 62])
    assert compare(records, A, B).seeds == (0, 1)


def test_unknown_configuration_is_named():
    with pytest.raises(ValueError, match=f"no record of '{C.label}'"):
        compare(runs(A, [60]), A, C)


def test_comparison_table_by_hand():
    records = runs(CLEAN, [62, 63, 64]) + runs(NOISY, [58, 59, 60]) + runs(GATED, [59, 60, 61])
    table = comparison_table(records, [("noise hurts", CLEAN, NOISY), ("gate recovers", NOISY, GATED)])
    assert list(table["n"]) == [3, 3] and table["mean_difference"].tolist() == pytest.approx([-4, 1])
    assert list(table["verdict"]) == ["lower", "higher"]  # zero spread: the interval is a point
    assert list(table["interval"]) == ["[-4.00, -4.00]", "[+1.00, +1.00]"]


def test_summary_by_configuration_in_the_order_first_met():
    records = [fake_record(A, 0, 60.0), fake_record(A, 1, 62.0), fake_record(LAST, 0, 63.0), fake_record(C, 0, 50.0)]
    frame = summary(records).set_index("configuration")
    assert frame.loc[A.label, "mean_accuracy"] == 61.0 and frame.loc[A.label, "n"] == 2
    assert frame.loc[A.label, "per_seed"] == "60.00, 62.00"
    assert math.isnan(frame.loc[C.label, "std_accuracy"])  # one seed: no spread
    assert summary(records)["configuration"].tolist() == [A.label, LAST.label, C.label]


def test_show_words_the_headers():
    records = runs(A, [60, 62]) + runs(B, [61, 64])
    html = show(comparison_table(records, [("b - a", A, B)]), "caption here").to_html()
    assert "mean gap" in html and "95% interval" in html and "caption here" in html
    assert "ci_low" not in html and "mean_difference" not in html
    assert "ours: mean (%)" in show(summary(records), "c").to_html()


def test_show_sets_a_chapters_own_float_columns_at_two_decimals():
    import pandas as pd

    html = show(pd.DataFrame({"network": ["none"], "file (MB)": [4.571428], "seeds": [3]}), "c").to_html()
    assert ">4.57<" in html and ">3<" in html and "4.571428" not in html


def test_provenance_names_profile_seeds_device_and_data():
    text = provenance(runs(A, [60, 60]))
    for words in ("`cpu` profile", "64x64", "20,000 training", "all test images", "seeds 0, 1",
                  "cpu (2 threads)", "20 minutes", "cifar10-jpeg.tar.gz"):
        assert words in text


def gated(seed, rho, score):
    configuration = FIRST_ON_GRAY[rho] if rho else FIRST_ON_NOISE
    return fake_record(configuration, seed, 60.0, attention=[0.9, 0.9, 0.9, score, score, score])


def test_extra_channel_scores_by_hand():
    records = [gated(0, 0.0, 0.01), gated(0, 0.5, 0.1), gated(0, 1.0, 0.5),
               gated(1, 0.0, 0.02), gated(1, 0.5, 0.05), gated(1, 1.0, 0.3)]
    frame = extra_channel_scores(records)
    assert sorted(frame["rho"].unique()) == [0.0, 0.5, 1.0] and frame["score"].sum() == pytest.approx(0.98)
    assert frame.set_index(["seed", "rho"]).loc[(1, 1.0), "score"] == pytest.approx(0.3)


def test_summary_sets_the_test_set_sampling_error_beside_the_spread():
    row = summary(runs(A, [80.0, 80.0]) + runs(B, [50.0])).iloc[0]
    assert row["sampling_error"] == pytest.approx(0.4)  # sqrt(0.8 * 0.2 / 10000) in points
    assert "test-set sampling error" in show(summary(runs(A, [80.0, 80.0])), "c").to_html()


def test_verdicts_by_hand():
    from cbam_helpers.evidence.comparisons import MARGIN, VERDICTS

    def comparison(differences):
        return compare(runs(A, [80.0] * len(differences)) + runs(B, [80.0 + d for d in differences]), A, B)

    assert comparison([0.9, 1.0, 1.1]).verdict == "higher"  # interval [+0.75, +1.25]
    assert comparison([-0.9, -1.0, -1.1]).verdict == "lower"
    # mean 0, sd 0.2: the 90% interval is t(0.95, 2) * 0.2 / sqrt(3) = 0.337 on each side, inside +-0.6
    flat = comparison([-0.2, 0.0, 0.2])
    assert flat.interval_at(0.90)[1] == pytest.approx(2.919986 * 0.2 / math.sqrt(3), abs=1e-5)
    assert MARGIN == 0.6 and flat.equivalent() and flat.verdict == "equivalent"
    # mean +0.4, sd 0.2: the 95% interval [-0.10, +0.90] holds zero and is +-0.50 wide, but the 90% interval
    # [+0.06, +0.74] reaches past the margin: not equivalent, however narrow the 95% interval is
    leaning = comparison([0.2, 0.4, 0.6])
    assert leaning.half_width < MARGIN and leaning.interval[0] < 0 < leaning.interval[1]
    assert leaning.interval_at(0.90)[1] == pytest.approx(0.4 + 2.919986 * 0.2 / math.sqrt(3), abs=1e-5)
    assert not leaning.equivalent() and leaning.verdict == "undecided" and leaning.equivalent(margin=0.8)
    assert comparison([-1.0, 0.0, 1.0]).verdict == "undecided"
    assert comparison([0.5]).verdict == "one seed"
    assert set(VERDICTS) == {"higher", "lower", "equivalent", "undecided", "one seed"}


def test_claims_table_holds_the_posts_gap_against_the_prediction_interval():
    from cbam_helpers.evidence.experiments import Claim

    records = runs(A, [80.0, 80.0, 80.0]) + runs(B, [80.9, 81.0, 81.1])
    # differences +0.9, +1.0, +1.1: prediction 1 +- t(0.975, 2) * 0.1 * sqrt(4 / 3) = [+0.50, +1.50]
    table = comparison_table(records, [Claim("B helps", A, B, "higher")], reported={A: 84.0, B: 86.0})
    row = table.iloc[0]
    assert row["expected"] == "higher" and row["verdict"] == "higher" and row["reported_gap"] == pytest.approx(2.0)
    assert row["prediction_interval"] == "[+0.50, +1.50]" and row["reported_inside"] == "no"
    table = comparison_table(records, [Claim("B helps", A, B, "higher")], reported={A: 84.0, B: 85.4})
    assert table.iloc[0]["reported_inside"] == "yes"  # +1.4 is outside [+0.75, +1.25], the mean's interval
    assert "expected" not in comparison_table(records, [("B - A", A, B)]).columns


def test_a_table_says_the_seeds_a_target_width_would_take():
    from cbam_helpers.evidence.analysis import seeds_needed

    # differences -1, +1, +0.5: SD 1.04
    records = runs(A, [80.0, 80.0, 80.0]) + runs(B, [79.0, 81.0, 80.5])
    table = comparison_table(records, [("B - A", A, B)], target=0.6)
    sd = math.sqrt(((-1 - 1 / 6) ** 2 + (1 - 1 / 6) ** 2 + (0.5 - 1 / 6) ** 2) / 2)
    assert table.iloc[0]["seeds_needed"] == seeds_needed(sd, 0.6) > 3
    html = show(table, "caption").to_html()
    assert "seeds for ±0.6" in html and ">target<" not in html


def test_epoch_closed_is_the_first_epoch_from_which_every_noise_score_stays_low():
    from dataclasses import replace

    from cbam_helpers.evidence.analysis import epoch_closed

    def gated(seed, scores_per_epoch):
        record = fake_record(GATED, seed, 80.0, curve=[80.0] * len(scores_per_epoch), attention=scores_per_epoch[-1])
        history = tuple(replace(e, attention=s) for e, s in zip(record.history, scores_per_epoch))
        return replace(record, history=history)

    rgb = [0.9, 0.95, 0.97]
    early = gated(0, [rgb + [0.05, 0.2, 0.05], rgb + [0.05, 0.05, 0.05], rgb + [0.02, 0.03, 0.01]])
    reopened = gated(1, [rgb + [0.05, 0.05, 0.05], rgb + [0.3, 0.05, 0.05], rgb + [0.04, 0.05, 0.06]])
    never = gated(2, [rgb + [0.5, 0.5, 0.5]] * 3)
    assert epoch_closed(early) == 2 and epoch_closed(reopened) == 3 and epoch_closed(never) is None


def test_a_gain_splits_into_the_controls_share_and_the_gates_by_hand():
    from cbam_helpers.evidence.comparisons import split_gain
    from cbam_helpers.evidence.experiments import Claim, Controlled

    # A the baseline, B the control, C the gate; seed 3 lacks the control, so only seeds 0-2 are split
    records = (runs(A, [80.0, 81.0, 80.5, 79.0]) + runs(B, [80.5, 81.6, 80.9]) + runs(C, [80.6, 81.5, 81.1, 90.0]))
    controlled = Controlled(Claim("C helps", A, C, "higher"), Claim("C - B", B, C, "higher"), "B's words", "gating")
    # whole: +0.6, +0.5, +0.6; share: +0.5, +0.6, +0.4; beyond: +0.1, -0.1, +0.2 (mean +0.067, SD 0.153)
    whole, share, beyond = split_gain(records, controlled)
    assert whole.seeds == share.seeds == beyond.seeds == (0, 1, 2)
    assert [w - s - b for w, s, b in zip(whole.differences, share.differences, beyond.differences)] == pytest.approx([0] * 3)
    assert beyond.mean == pytest.approx(0.2 / 3) and beyond.sd == pytest.approx(math.sqrt(0.07 / 3))
    one_seed = records[:1] + records[4:5] + records[7:8]
    assert split_gain(one_seed, controlled) is None


def test_every_control_splits_the_claim_whose_gate_it_controls():
    from cbam_helpers.evidence.experiments import CLAIMS, CONTROLLED, CONTROLS

    assert {c.control for c in CONTROLLED} == set(CONTROLS)
    for claim, control, _, _ in CONTROLLED:
        assert claim in CLAIMS and claim.expected == "higher" and control.treatment == claim.treatment


def test_claims_and_controls_are_named():
    from cbam_helpers.evidence import experiments

    assert experiments.CLAIMS[0] is experiments.LAST_HELPS and experiments.CONTROLS[1] is experiments.LOOKING_CONTROL
    assert [c.treatment for c in experiments.CLAIMS] == [experiments.LAST, experiments.NOISY_BASELINE,
                                                          experiments.FIRST_ON_NOISE, experiments.FIRST_ON_NOISE]


def test_verdict_history_replays_each_claim_seed_by_seed_by_hand():
    from cbam_helpers.evidence.experiments import Claim
    from cbam_helpers.display.tables import verdict_history

    records = (runs(A, [80.0] * 5) + runs(B, [80.4, 80.5, 80.6, 78.5])  # differences +0.4, +0.5, +0.6, -1.5
               + runs(C, [79.5, 80.0, 80.5, 80.0, 80.0]) + runs(GATED, [80.9, 81.0, 81.1, 81.0, 81.0]))
    claims = [Claim("B helps", A, B, "higher"), Claim("C helps", A, C, "higher"), Claim("G helps", A, GATED, "higher")]
    history = verdict_history(records, claims)
    assert list(history.n) == [3, 4, 3, 4, 5, 3, 4, 5]  # each claim from three seeds to the seeds it has
    b = history[history.comparison == "B helps"].set_index("n")
    # three seeds: mean +0.5, sd 0.1, half-width t(0.975, 2) * 0.1 / sqrt(3) = 0.248
    assert b.loc[3, "mean_difference"] == pytest.approx(0.5) and b.loc[3, "interval"] == "[+0.25, +0.75]"
    # four: mean 0, sd sqrt(3.02 / 3), half-width t(0.975, 3) * sd / 2 = 1.60
    assert b.loc[4, "ci_high"] == pytest.approx(3.182446 * math.sqrt(3.02 / 3) / 2, abs=1e-5)
    assert list(b.verdict) == ["higher", "undecided"]
    # C: 90% half-widths t(0.95, 2) * 0.5 / sqrt(3) = 0.84, then t(0.95, 3) * sqrt(0.5 / 3) / 2 = 0.48 and
    # t(0.95, 4) * sqrt(0.125) / sqrt(5) = 0.34, both inside +-0.6
    assert list(history[history.comparison == "C helps"].verdict) == ["undecided", "equivalent", "equivalent"]
    assert list(history[history.comparison == "G helps"].verdict) == ["higher"] * 3
    assert list(verdict_history(records, claims[:1], first=2).n) == [2, 3, 4]
    with pytest.raises(ValueError, match="two seeds"):
        verdict_history(records, claims, first=1)


def test_a_comparison_over_its_first_seeds():
    c = compare(runs(A, [80.0, 80.0, 80.0]) + runs(B, [81.0, 82.0, 83.0]), A, B)
    assert c.first(2).seeds == (0, 1) and c.first(2).differences == pytest.approx((1.0, 2.0))
    assert c.first(3) == c
    for n in (0, 4):
        with pytest.raises(ValueError, match="between 1 and the 3 seeds"):
            c.first(n)


def test_how_a_gap_moved_between_two_settings_by_hand():
    from cbam_helpers.evidence.comparisons import PairedComparison, gap_change

    short = PairedComparison("none", "gate", "eight", (0, 1, 2), (-1.0, -3.0, -2.0))
    long = PairedComparison("none", "gate", "sixteen", (0, 2, 5), (-0.5, -4.0, 1.0))
    moved = gap_change(short, long)
    # seeds 0 and 2 have both: -0.5 - (-1) = +0.5, -4 - (-2) = -2
    assert moved.seeds == (0, 2) and moved.differences == pytest.approx((0.5, -2.0))
    assert moved.mean == pytest.approx(-0.75) and moved.profile == "eight, sixteen"
    with pytest.raises(ValueError, match="share no seed"):
        gap_change(short, PairedComparison("none", "gate", "sixteen", (7,), (1.0,)))
    with pytest.raises(ValueError, match="not the same gap"):
        gap_change(short, PairedComparison("none", "other", "sixteen", (0,), (1.0,)))


def test_gaps_by_epoch_by_hand():
    from cbam_helpers.evidence.comparisons import compare_by_epoch

    records = [fake_record(A, 0, 70.0, curve=[50, 60, 70]), fake_record(A, 1, 72.0, curve=[52, 62, 72]),
               fake_record(B, 0, 71.0, curve=[48, 61, 71]), fake_record(B, 1, 73.0, curve=[51, 60, 73]),
               fake_record(B, 2, 73.0, curve=[51, 60, 73])]  # seed 2 has no baseline: not paired
    gaps = compare_by_epoch(records, A, B)
    assert [g.seeds for g in gaps] == [(0, 1)] * 3
    assert [g.differences for g in gaps] == [pytest.approx(d) for d in [(-2, -1), (1, -2), (1, 1)]]
    assert gaps[-1].interval == pytest.approx((1.0, 1.0))  # the same gap at both seeds: no spread
    assert [g.mean for g in compare_by_epoch(records, A, B, "train_loss")] == [0.0] * 3  # losses stay in nats


def test_gaps_by_epoch_refuse_what_cannot_be_paired():
    from cbam_helpers.evidence.comparisons import compare_by_epoch

    records = [fake_record(A, 0, 70.0, curve=[50, 70]), fake_record(B, 0, 71.0, curve=[48, 61, 71])]
    with pytest.raises(ValueError, match="different lengths"):
        compare_by_epoch(records, A, B)
    with pytest.raises(ValueError, match="accuracy or a loss"):
        compare_by_epoch(records, A, B, "seconds")
    with pytest.raises(ValueError, match=f"no record of '{C.label}'"):
        compare_by_epoch(records, A, C)


def test_seed_spans_say_which_seeds():
    from cbam_helpers.display.tables import seed_span

    assert seed_span([2, 0, 1, 3, 4]) == "0-4"
    assert seed_span([0, 1]) == "0, 1" and seed_span([0, 2, 5]) == "0, 2, 5" and seed_span([7]) == "7"
