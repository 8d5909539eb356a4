"""Figures whose layout depends on the records: how many panels, and that each run is drawn."""
from dataclasses import replace

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402

from cbam_helpers.plots import attention_over_epochs, stem_norms  # noqa: E402
from fakes import GATED, NOISY, fake_record  # noqa: E402


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


def test_stem_norms_draw_one_line_per_seed_and_channel():
    records = [gated_run(c, s) for c in (NOISY, GATED) for s in range(5)]
    fig = stem_norms(records, "title")
    for ax in fig.axes[:2]:  # one panel per configuration: 5 seeds x 6 channels, no averaging over seeds
        assert sum(len(line.get_xdata()) == 3 for line in ax.get_lines()) == 30
    plt.close(fig)
