"""Figures the chapters show: learning curves, per-seed accuracies and paired gaps, attention scores, placements."""
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cbam_helpers.engine.batches import InputSpec
from cbam_helpers.engine.records import select
from cbam_helpers.evidence.comparisons import compare, split_gain
from cbam_helpers.language import term, text
from cbam_helpers.display.tables import extra_channel_scores, history_frame


def label_size():
    """The figures' axis-label size in points: the smallest type a diagram's boxes use."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=plt.rcParams["axes.labelsize"]).get_size_in_points()


def learning_curves(records, title):
    """Test accuracy and training loss per epoch, one line per configuration (mean over seeds, band = spread)."""
    frame = history_frame(records)
    frame[term("test accuracy (%)")] = 100 * frame["test_accuracy"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.lineplot(frame, x="epoch", y=term("test accuracy (%)"), hue="configuration", marker="o", ax=axes[0],
                 errorbar=("pi", 100))
    sns.lineplot(frame, x="epoch", y="train_loss", hue="configuration", marker="o", ax=axes[1],
                 errorbar=("pi", 100), legend=False)
    axes[0].set(xlabel="epoch")
    axes[0].legend(title=term("configuration"))
    single = frame.groupby("configuration")["seed"].nunique().max() == 1  # no band to explain
    how = "(one run per line)" if single else "(line: mean over seeds; band: lowest to highest seed)"
    axes[0].set_title(term(f"Test accuracy\n{how}"), fontsize=10)
    axes[1].set(xlabel="epoch", ylabel=term("cross-entropy (nats)"))
    axes[1].set_title(term(f"Training loss\n{how}"), fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def attention_bars(attention, post_attention, title):
    """Mean attention per input channel, ours beside the post's reported values (R, G, B, then 3 noise)."""
    names = [term(n) for n in InputSpec(len(attention) - 3).channel_names]
    frame = pd.DataFrame({"channel": names * 2, "mean attention": list(attention) + list(post_attention),
                          "source": [term("this book")] * len(names) + [term("reported by the post")] * len(names)})
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.barplot(frame, x="channel", y="mean attention", hue="source", ax=ax)
    ax.set(ylim=(0, 1.05), ylabel=term("mean score over 64 test images"), xlabel=term("input channel"), title=title)
    ax.legend(title=term("source"))
    fig.tight_layout()
    return fig


def attention_over_epochs(records, title):
    """Mean attention per input channel after each epoch: one panel per seed."""
    columns = min(len(records), 4)  # wrap: a row of nine seeds would shrink every panel to a sliver
    rows_of_panels = -(-len(records) // columns)
    fig, axes = plt.subplots(rows_of_panels, columns, figsize=(3.6 * columns + 1, 3.1 * rows_of_panels + 0.3),
                             sharey=True, squeeze=False)
    used = axes.flat[:len(records)]
    for ax, record in zip(used, sorted(records, key=lambda r: r.seed)):
        names = record.config.inputs.channel_names
        rows = [dict(epoch=e.epoch, channel=term(names[c]), score=s)
                for e in record.history for c, s in enumerate(e.attention)]
        sns.lineplot(pd.DataFrame(rows), x="epoch", y="score", hue="channel", marker="o", ax=ax,
                     legend=ax is used[-1])
        ax.set(ylim=(0, 1.05), ylabel=term("mean score over 64 test images"),
               title=f"{term('seed')} {record.seed}")
    for ax in axes.flat[len(records):]:
        ax.set_visible(False)
    used[-1].legend(title=term("input channel"), ncol=2, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def paired_gaps(records, pairs, title, margin=None):
    """A forest plot: per ``(name, baseline, treatment)``, each seed's difference (points) and the mean with its
    95% t-interval; ``margin``: shade the band of gaps treated as none."""
    return forest([compare(records, baseline, treatment) for _, baseline, treatment, *_ in pairs],
                  [term(pair[0]) for pair in pairs], title, margin=margin)


def gain_splits(records, controlled, title):
    """A forest plot, as :func:`paired_gaps`, of each claimed gain and its two parts
    (:func:`~cbam_helpers.evidence.comparisons.split_gain`): the whole, its control's share, and what the gate adds on top, over
    the seeds that have all three runs; a rule between one claim's rows and the next's."""
    comparisons, labels = [], []
    for c in controlled:
        split = split_gain(records, c)
        if split is not None:
            comparisons += split
            parts = (c.control.baseline.label, c.adds)
            labels += [term(c.claim.name), *(text(f"of which {p}", f"其中：{term(p)}") for p in parts)]
    if not comparisons:
        raise ValueError("no controlled claim has two seeds with all three of its runs")
    fig = forest(comparisons, labels, title)
    for row in range(3, len(comparisons), 3):
        fig.axes[0].axhline(row - 0.5, color="#bbb", lw=0.8)
    return fig


def forest(comparisons, labels, title, margin=None):
    """One row per :class:`~cbam_helpers.evidence.comparisons.PairedComparison`: each seed's difference and the mean with
    its 95% t-interval; ``margin`` (points): a shaded band of +-margin around zero."""
    height = 0.55 * len(comparisons) + 1.9
    fig, ax = plt.subplots(figsize=(8.5, height))
    if margin is not None:
        ax.axvspan(-margin, margin, color="#d6eaf8", zorder=0,
                   label=f"±{margin} " + term("points: no gap"))
    for row, c in enumerate(comparisons):
        ax.scatter(c.differences, [row] * c.n, color="#777", zorder=3, label=term("one seed") if row == 0 else None)
        low, high = c.interval
        if c.n >= 2:
            ax.errorbar(c.mean, row, xerr=[[c.mean - low], [high - c.mean]], fmt="D", color="#b03a2e",
                        capsize=4, zorder=4, label=term("mean, 95% t-interval") if row == 0 else None)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(yticks=range(len(comparisons)), yticklabels=labels, ylim=(len(comparisons) - 0.5, -0.5),
           xlabel=term("difference in test accuracy (points), paired by seed"), title=title)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))  # room for the legend under the axis
    return fig


def score_histograms(record, title):
    """How a gate's per-channel mean scores shift over training: one empirical CDF per epoch (the ``last`` gate).

    Overlapping histograms hide the change; cumulative curves that move right or left show it at a glance.
    """
    epochs = record.history
    fig, ax = plt.subplots(figsize=(7, 3.4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(epochs)))
    for color, epoch in zip(colors, epochs):
        scores = np.sort(epoch.attention)
        ax.step(scores, np.arange(1, len(scores) + 1) / len(scores), where="post", color=color, lw=1.5,
                label=f"epoch {epoch.epoch}")
    ax.set(xlabel=term("channel's mean score over 64 test images"), ylabel=term("share of channels at or below"),
           title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def placements_diagram():
    """MobileNetV2's path from image to logits, with the three places a CBAM gate can sit."""
    stages = [term("input\n(B, C_in, H, W)"), term("stem conv\n3x3, stride 2"), term("17 inverted-\nresidual blocks"),
              term("1x1 conv\n1280 channels"), term("global\naverage pool"), term("classifier\n(B, 10)")]
    # x position of each gate: between input and stem, over the blocks, between 1x1 conv and pooling
    gates = {1.3: "'first'", 3.55: term("'blocks'\n(inside each)"), 5.8: "'last'"}
    fig, ax = plt.subplots(figsize=(11, 2.6))
    for i, text in enumerate(stages):
        ax.add_patch(plt.Rectangle((i * 1.5, 0), 1.1, 1, facecolor="#dde7f3", edgecolor="#345"))
        ax.text(i * 1.5 + 0.55, 0.5, text, ha="center", va="center", fontsize=label_size())
        if i:
            ax.annotate("", xy=(i * 1.5, 0.5), xytext=(i * 1.5 - 0.4, 0.5), arrowprops=dict(arrowstyle="->"))
    for x, text in gates.items():
        ax.text(x, 1.45, f"CBAM {text}", ha="center", va="bottom", fontsize=label_size(), color="#b03a2e")
        ax.annotate("", xy=(x, 1.02), xytext=(x, 1.42), arrowprops=dict(arrowstyle="->", color="#b03a2e"))
    ax.set(xlim=(-0.2, 8.9), ylim=(-0.2, 2.2))
    ax.axis("off")
    fig.tight_layout()
    return fig


def spatial_gate_maps(records, title):
    """The spatial gates' maps, per map size: the mean over every probe image and seed, and the spread over images.

    A gate that looks at the image varies from image to image (a bright spread map); one that has learned a
    fixed positional weighting has a patterned mean map and a dark spread map.
    """
    by_size = {}
    for record in records:
        for gate in record.last_epoch.spatial_maps["maps"]:
            by_size.setdefault(gate["size"], []).append(np.array(gate["maps"]))  # (images, H, W)
    sizes = sorted(by_size, reverse=True)
    fig, axes = plt.subplots(2, len(sizes), figsize=(2.2 * len(sizes) + 1.2, 4.6), squeeze=False)
    for col, size in enumerate(sizes):
        maps = by_size[size]
        mean = np.mean([m.mean(0) for m in maps], axis=0)
        spread = np.mean([m.std(0) for m in maps], axis=0)
        top = axes[0, col].imshow(mean, vmin=0, vmax=1, cmap="magma")
        bottom = axes[1, col].imshow(spread, vmin=0, vmax=0.25, cmap="viridis")
        axes[0, col].set_title(f"{size}x{size} " + term("map"), fontsize=9)
    axes[0, 0].set_ylabel(term("mean score"))
    axes[1, 0].set_ylabel(term("SD over images"))
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
    fig.colorbar(top, ax=axes[0], shrink=0.8, label=term("score"))
    fig.colorbar(bottom, ax=axes[1], shrink=0.8, label=term("SD"))
    fig.suptitle(title)
    return fig


def scores_against_signal(records, baselines, title):
    """Left: the input gate's mean score on the extra channels against how much of the image they carry.

    Right: test accuracy against the same axis, with horizontal lines for ``baselines`` (configurations).
    """
    frame = extra_channel_scores(records).astype({"seed": str})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, column, label in ((axes[0], "score", term("mean score on the 3 extra channels")),
                              (axes[1], "accuracy", term("final test accuracy (%)"))):
        sns.lineplot(frame, x="rho", y=column, errorbar=None, color="black", lw=1, ax=ax, label=term("mean over seeds"))
        sns.scatterplot(frame, x="rho", y=column, hue="seed", s=50, ax=ax, zorder=3)
        ax.set(xlabel=term("rho: correlation of each extra channel with the grayscale image"), ylabel=label)
    axes[0].set_ylim(0, 1.05)
    for baseline, color in zip(baselines, ("#55a868", "#c44e52")):
        accuracies = [r.accuracy for r in select(records, baseline)]
        if accuracies:
            axes[1].axhline(np.mean(accuracies), ls="--", color=color, label=f"{baseline.label} (mean)")
    axes[1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gate_diagram():
    """CBAM's channel gate as a flow chart: pool (average, max) -> shared MLP -> sum -> sigmoid -> scale, with shapes."""
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 3.3))
    fig.patch.set_facecolor("white")  # readable on the book's dark theme too
    ax.set(xlim=(0, 11), ylim=(0.2, 3.55))
    ax.axis("off")
    boxes = {
        "F": (0.2, 1.25, term("feature map F\n(B, C, H, W)"), "#d6eaf8"),
        "avg": (2.0, 2.15, "AvgPool\n(B, C)", "#fdebd0"),
        "max": (2.0, 0.35, "MaxPool\n(B, C)", "#fdebd0"),
        "mlp_avg": (3.8, 2.15, "MLP  C -> C/r -> C\n(B, C)", "#e8daef"),
        "mlp_max": (3.8, 0.35, "MLP  C -> C/r -> C\n(B, C)", "#e8daef"),
        "sum": (6.05, 1.25, term("sum\n(B, C)"), "#d5f5e3"),
        "sigmoid": (7.35, 1.25, "sigmoid\nMc: (B, C, 1, 1)", "#d5f5e3"),
        "out": (9.15, 1.25, "Mc * F\n(B, C, H, W)", "#d6eaf8"),
    }
    width = {"F": 1.5, "mlp_avg": 1.85, "mlp_max": 1.85, "sigmoid": 1.5, "out": 1.5}
    centre = {}
    for name, (x, y, text, colour) in boxes.items():
        w = width.get(name, 1.15)
        ax.add_patch(FancyBboxPatch((x, y), w, 0.8, boxstyle="round,pad=0.05", fc=colour, ec="0.3"))
        ax.text(x + w / 2, y + 0.4, text, ha="center", va="center", fontsize=label_size(), color="black")
        centre[name] = (x, y + 0.4, x + w)
    arrow = dict(arrowstyle="->", color="0.2", lw=1.2)
    for a, b in [("F", "avg"), ("F", "max"), ("avg", "mlp_avg"), ("max", "mlp_max"), ("mlp_avg", "sum"),
                 ("mlp_max", "sum"), ("sum", "sigmoid"), ("sigmoid", "out")]:
        ax.annotate("", xy=(centre[b][0], centre[b][1]), xytext=(centre[a][2], centre[a][1]), arrowprops=arrow)
    left, right = centre["F"][0] + 0.75, centre["out"][0] + 0.75
    ax.plot([left, left, right], [2.1, 3.2, 3.2], color="#b03a2e", lw=1.2)
    ax.annotate("", xy=(right, 2.1), xytext=(right, 3.2), arrowprops=dict(arrowstyle="->", color="#b03a2e", lw=1.2))
    ax.text(5.6, 3.28, term("F itself, scaled channel by channel"), ha="center", fontsize=label_size(),
            color="#b03a2e")
    ax.text(4.72, 1.62, term("same weights"), ha="center", fontsize=label_size(), style="italic", color="0.3")
    fig.tight_layout()
    return fig


def stem_norms(records, title):
    """The stem convolution's weight norm per input channel after every epoch: one panel per configuration."""
    rows = [dict(configuration=r.label, seed=str(r.seed), epoch=e.epoch,
                 channel=term(r.config.inputs.channel_names[ch]), norm=n) for r in records
            if r.configuration.inputs.extra_channels
            for e in r.history if e.stem_norm for ch, n in enumerate(e.stem_norm)]
    if not rows:
        return None
    # one line per seed and channel, coloured by channel: line styles run out long before seeds do
    grid = sns.relplot(pd.DataFrame(rows), x="epoch", y="norm", hue="channel", col="configuration", units="seed",
                       estimator=None, kind="line", marker="o", markersize=4, linewidth=1, alpha=0.8, height=3.2,
                       aspect=1.3)
    grid.set_axis_labels("epoch", term("stem weight norm per input channel"))
    grid.set_titles("{col_name}")
    grid.legend.set_title(term("channel"))
    grid.figure.suptitle(title, y=1.04)
    return grid.figure


VERDICT_COLOURS = {"higher": "#1e8449", "lower": "#b03a2e", "equivalent": "#2e86c1", "undecided": "#888"}


def verdicts_by_seed_count(history, title):
    """One panel per claim of a :func:`~cbam_helpers.display.tables.verdict_history` table: the mean difference and its 95%
    interval at each seed count of the table, coloured by the verdict at that count."""
    claims = list(dict.fromkeys(history["comparison"]))
    if not claims:
        raise ValueError("no claim has the seeds to draw: the table has no rows")
    fig, axes = plt.subplots(1, len(claims), figsize=(2.6 * len(claims) + 1, 3.4), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], claims):
        rows = history[history["comparison"] == name]
        for row in rows.itertuples():
            colour = VERDICT_COLOURS[row.verdict]
            ax.errorbar(row.n, row.mean_difference, yerr=[[row.mean_difference - row.ci_low],
                                                           [row.ci_high - row.mean_difference]],
                        fmt="o", color=colour, capsize=3, label=term(row.verdict))
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel=term("seeds"), xticks=rows["n"])
        ax.set_title(textwrap.fill(term(name), 24), fontsize=9)
    axes[0][0].set_ylabel(term("difference (points), 95% interval"))
    handles = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
