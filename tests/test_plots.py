"""Figures whose layout depends on the records: how many panels, and that each run is drawn."""
from dataclasses import replace

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cbam_helpers.display.plots import (attention_over_epochs, gain_splits, learning_curves, stem_norms,  # noqa: E402
                                        verdicts_by_seed_count)
from fakes import A, B, C, GATED, NOISY, fake_record, runs  # noqa: E402


def gated_run(configuration, seed, epochs=3):
    record = fake_record(configuration, seed, 80.0, curve=[80.0] * epochs)
    history = tuple(replace(e, attention=[0.9, 0.9, 0.9, 0.1, 0.1, 0.1], stem_norm=[3.0, 3.0, 3.0, 1.0, 1.0, 1.0])
                    for e in record.history)
    return replace(record, history=history)


def test_attention_over_epochs_wraps_seeds_four_to_a_row():
    fig = attention_over_epochs([gated_run(GATED, s) for s in range(5)], "title")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 8 and len(visible) == 5  # two rows of four, the last three panels hidden
    assert [ax.get_title() for ax in visible] == [f"seed {s}" for s in range(5)]
    assert all(len(ax.get_lines()) >= 6 for ax in visible)  # a line per input channel
    plt.close(fig)
    fig = attention_over_epochs([gated_run(GATED, 0)], "title")
    assert len(fig.axes) == 1
    plt.close(fig)


def test_learning_curves_explain_a_band_only_where_there_are_seeds_to_span():
    single = learning_curves([fake_record(c, 0, 80.0, curve=[70.0, 80.0]) for c in (A, B)], "one run each")
    assert all("one run per line" in ax.get_title() for ax in single.axes)
    seeds = learning_curves([fake_record(c, s, 80.0, curve=[70.0, 80.0]) for c in (A, B) for s in (0, 1)], "two")
    assert all("band: lowest to highest seed" in ax.get_title() for ax in seeds.axes)
    plt.close("all")


def test_stem_norms_draw_one_line_per_seed_and_channel():
    records = [gated_run(c, s) for c in (NOISY, GATED) for s in range(5)]
    fig = stem_norms(records, "title")
    for ax in fig.axes[:2]:  # one panel per configuration: 5 seeds x 6 channels, no averaging over seeds
        assert sum(len(line.get_xdata()) == 3 for line in ax.get_lines()) == 30
    plt.close(fig)


def test_gain_splits_draw_three_rows_per_controlled_claim_that_has_two_common_seeds():
    from cbam_helpers.evidence.experiments import Claim, Controlled

    split = Controlled(Claim("C helps", A, C, "higher"), Claim("C - B", B, C, "higher"), "B's words", "gating")
    unsplit = Controlled(Claim("gated helps", A, GATED, "higher"), Claim("gated - B", B, GATED, "higher"), "", "")
    records = runs(A, [80.0, 81.0]) + runs(B, [80.5, 81.6]) + runs(C, [80.6, 81.5])
    fig = gain_splits(records, [unsplit, split], "title")  # GATED has no runs: its claim draws no rows
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C helps", f"of which {B.label}", "of which gating"]
    assert [len(points.get_offsets()) for points in ax.collections[::2]] == [2, 2, 2]  # each row's two seeds
    plt.close(fig)
    with pytest.raises(ValueError, match="two seeds"):
        gain_splits(records, [unsplit], "title")


def test_verdicts_by_seed_count_draws_a_panel_per_claim_and_a_point_per_seed_count():
    from cbam_helpers.evidence.experiments import Claim
    from cbam_helpers.display.tables import verdict_history as history_of

    records = runs(A, [80.0] * 4) + runs(B, [80.4, 80.5, 80.6, 78.5]) + runs(C, [80.9, 81.0, 81.1])
    history = history_of(records, [Claim("B helps", A, B, "higher"), Claim("C helps", A, C, "higher")])
    fig = verdicts_by_seed_count(history, "title")
    assert [ax.get_title() for ax in fig.axes] == ["B helps", "C helps"]
    assert [len(ax.containers) for ax in fig.axes] == [2, 1]  # seed counts 3 and 4 for B, 3 for C
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == ["higher", "undecided"]
    plt.close(fig)
    with pytest.raises(ValueError, match="no claim"):
        verdicts_by_seed_count(history.iloc[:0], "title")


def test_gaps_by_epoch_draw_a_column_per_comparison_and_a_line_per_seed():
    from cbam_helpers.display.gap_plots import gaps_by_epoch

    records = [fake_record(c, s, 80.0, curve=[70.0 + s, 75.0, 80.0 + d])
               for s in range(3) for c, d in ((A, 0.0), (B, -1.0), (C, 0.5))]
    fig = gaps_by_epoch(records, [("B - A", A, B), ("C - A", A, C)], "title")
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "B - A\n(3 seeds)"
    for ax in fig.axes:  # three seeds and their mean over three epochs, a zero line, the interval's band
        assert sum(len(line.get_xdata()) == 3 for line in ax.get_lines()) == 4 and len(ax.collections) == 1
    accuracy_of_b = fig.axes[0].get_lines()[3]
    assert list(accuracy_of_b.get_ydata()) == pytest.approx([0.0, 0.0, -1.0])
    plt.close(fig)


def test_gaps_by_schedule_meet_at_the_end_of_schedules_of_different_lengths():
    from cbam_helpers.display.gap_plots import gaps_by_schedule

    short = [fake_record(c, s, 80.0, curve=[70.0, 80.0 + d]) for s in range(2) for c, d in ((A, 0.0), (B, -2.0))]
    long = [fake_record(c, 0, 80.0, curve=[60.0, 70.0, 75.0, 80.0 + d]) for c, d in ((A, 0.0), (B, -1.0))]
    fig = gaps_by_schedule({"2 epochs": short, "4 epochs": long}, A, B, "title")
    accuracy = fig.axes[0].get_lines()
    # short: two seeds and the mean; long: one seed and the mean; then the zero line
    assert [len(line.get_xdata()) for line in accuracy] == [2, 2, 2, 4, 4, 2]
    assert list(accuracy[2].get_xdata()) == pytest.approx([0.5, 1.0])
    assert list(accuracy[4].get_xdata()) == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert accuracy[2].get_ydata()[-1] == pytest.approx(-2.0) and accuracy[4].get_ydata()[-1] == pytest.approx(-1.0)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["2 epochs (2 seeds)", "4 epochs (1 seed)"]
    plt.close(fig)
    with pytest.raises(ValueError, match="no record of"):  # a schedule without one side is refused by name
        gaps_by_schedule({"2 epochs": short[:1]}, A, B, "title")


def test_the_forest_shades_the_margin_when_asked():
    from cbam_helpers.display.plots import paired_gaps

    records = runs(A, [80.0, 81.0]) + runs(B, [80.5, 81.6])
    plain = paired_gaps(records, [("B - A", A, B)], "title")
    shaded = paired_gaps(records, [("B - A", A, B)], "title", margin=0.6)
    assert len(shaded.axes[0].patches) == len(plain.axes[0].patches) + 1
    assert "±0.6 points: no gap" in [t.get_text() for t in shaded.legends[0].get_texts()]
    plt.close("all")


def test_the_diagrams_box_labels_are_no_smaller_than_axis_labels():
    from cbam_helpers.display import placement_plots, plots
    from cbam_helpers.synthetic import spatial_plots

    for draw in (plots.gate_diagram, plots.placements_diagram, placement_plots.placement_diagrams,
                 spatial_plots.spatial_gate_diagram):
        fig = draw()
        sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts if t.get_text().strip() not in ("", "+")]
        assert sizes and min(sizes) >= plots.label_size(), draw.__name__
        plt.close(fig)
