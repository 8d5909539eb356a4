"""How a paired gap builds up through training: after every epoch, and through schedules of different lengths."""
import matplotlib.pyplot as plt
import numpy as np

from cbam_helpers.evidence.comparisons import compare_by_epoch
from cbam_helpers.language import term, text


def gaps_by_epoch(records, pairs, title):
    """How each ``(name, baseline, treatment)`` gap built up, one column per comparison: the paired gap after every
    epoch in test accuracy (points, the curve's subset; top) and in training loss (nats; bottom), each seed's
    gap thin and the mean over seeds with its 95% t-interval."""
    fields = (("test_accuracy", term("test-accuracy gap\n(points, curve subset)")),
              ("train_loss", term("training-loss gap\n(nats)")))
    fig, axes = plt.subplots(2, len(pairs), figsize=(2.9 * len(pairs) + 1, 5.6), sharex=True, sharey="row",
                             squeeze=False)
    for column, (name, baseline, treatment, *_) in enumerate(pairs):
        for row, (field, ylabel) in enumerate(fields):
            ax, gaps = axes[row, column], compare_by_epoch(records, baseline, treatment, field)
            epochs = np.arange(1, len(gaps) + 1)
            for seed in range(gaps[0].n):
                ax.plot(epochs, [g.differences[seed] for g in gaps], color="#999", lw=0.7, alpha=0.6,
                        label=term("one seed") if seed == 0 else None)
            ax.plot(epochs, [g.mean for g in gaps], color="#b03a2e", marker="o", ms=4, label=term("mean"))
            if all(g.n >= 2 for g in gaps):
                ax.fill_between(epochs, *zip(*(g.interval for g in gaps)), color="#b03a2e", alpha=0.15,
                                label=term("95% t-interval"))
            ax.axhline(0, color="black", lw=0.8)
            ax.set(xticks=epochs, xlabel="epoch" if row else None, ylabel=None if column else ylabel)
        axes[0, column].set_title(f"{name}\n" + text(f"({gaps[0].n} seeds)", f"（{gaps[0].n} 个种子）"),
                                  fontsize=10)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def gaps_by_schedule(schedules, baseline, treatment, title):
    """One paired gap, ``treatment`` minus ``baseline``, through schedules of different lengths: ``schedules`` maps
    a label to the records of one profile. The x-axis is the share of the schedule done, so an 8-epoch and a
    16-epoch run meet at its end; each seed's gap thin, the mean over seeds bold, in test accuracy (points, the
    curve's subset; top) and training loss (nats; bottom)."""
    fig, axes = plt.subplots(2, 1, figsize=(7, 5.6), sharex=True)
    for colour, (label, records) in zip(("#2e86c1", "#b03a2e", "#229954"), schedules.items()):
        for ax, field in zip(axes, ("test_accuracy", "train_loss")):
            gaps = compare_by_epoch(records, baseline, treatment, field)
            done = np.arange(1, len(gaps) + 1) / len(gaps)
            for seed in range(gaps[0].n):
                ax.plot(done, [g.differences[seed] for g in gaps], color=colour, lw=0.7, alpha=0.45)
            ax.plot(done, [g.mean for g in gaps], color=colour, marker="o", ms=4,
                    label=label + text(f" ({gaps[0].n} seed{'s' * (gaps[0].n != 1)})", f"（{gaps[0].n} 个种子）"))
    for ax, ylabel in zip(axes, (term("test-accuracy gap\n(points, curve subset)"), term("training-loss gap\n(nats)"))):
        ax.axhline(0, color="black", lw=0.8)
        ax.set(ylabel=ylabel)
    axes[1].set(xlabel=text("share of the schedule done (thin: one seed; bold: the mean)",
                            "训练计划完成的比例（细线：单个种子；粗线：均值）"), xlim=(0, 1.02))
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
