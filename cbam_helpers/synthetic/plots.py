"""Figures of the speaking-channel chapter: example inputs, accuracies, paired gaps, per-input scores, a sweep."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle

from cbam_helpers.synthetic.channel_tasks import GATE_NAMES, generate
from cbam_helpers.language import term

GATE_LABELS = {"none": "no gate", "constant": "constant (learned descriptors)", "avg": "SE (average)",
               "max": "max alone", "both": "CBAM (average + max)", "scale": "constant scale"}


def example_inputs(tasks, per_task=2, seed=0):
    """A few inputs of each task, one row per input and one panel per channel; the speaker is framed."""
    rows = [(name, i) for name in tasks for i in range(per_task)]
    channels = next(iter(tasks.values())).channels
    fig, axes = plt.subplots(len(rows), channels, figsize=(1.1 * channels, 1.25 * len(rows)), squeeze=False)
    data = {name: generate(task, per_task, seed) for name, task in tasks.items()}
    for row, (name, i) in enumerate(rows):
        x, labels, speakers = data[name]
        limit = float(x[i].abs().max())
        for c in range(channels):
            ax = axes[row, c]
            ax.imshow(x[i, c], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set(xticks=[], yticks=[])
            if c == int(speakers[i]):
                size = x.shape[-1]
                ax.add_patch(Rectangle((-0.5, -0.5), size, size, fill=False, lw=3, ec="black"))
            if row == 0:
                ax.set_title(f"{term('channel')} {c}", fontsize=8)
        axes[row, 0].set_ylabel(f"{name}\nclass {int(labels[i])}", fontsize=8)
    fig.tight_layout()
    return fig


def accuracies(results):
    """Per cue, each gate's test accuracy: one dot per seed, the mean with its 95% t-interval."""
    frame = pd.concat([r.assign(cue=cue) for cue, r in results.items()], ignore_index=True)
    frame["front end"] = frame["gate"].map(GATE_LABELS)
    order = [GATE_LABELS[g] for g in GATE_NAMES if g in set(frame["gate"])]
    grid = sns.catplot(frame, x="accuracy", y="front end", col="cue", order=order, kind="strip", color="0.6",
                       height=3.2, aspect=1.3, jitter=0.15)
    grid.map_dataframe(sns.pointplot, x="accuracy", y="front end", order=order, errorbar=("ci", 95),
                       linestyle="none", color="C3", markers="D")
    grid.set_axis_labels("test accuracy (%)", "")
    grid.set_titles("{col_name} cue")
    return grid.figure


def paired_gaps(comparisons):
    """Forest plot: each gate minus no gate, per cue, with its 95% interval; zero marked."""
    rows = [dict(cue=cue, gate=GATE_LABELS[gate], mean=c.mean, low=c.interval[0], high=c.interval[1])
            for cue, by_gate in comparisons.items() for gate, c in by_gate.items()]
    frame = pd.DataFrame(rows)
    cues = list(comparisons)
    fig, axes = plt.subplots(1, len(cues), figsize=(5 * len(cues), 2.8), sharey=True, squeeze=False)
    for ax, cue in zip(axes[0], cues):
        part = frame[frame["cue"] == cue].reset_index(drop=True)
        y = np.arange(len(part))
        ax.errorbar(part["mean"], y, xerr=[part["mean"] - part["low"], part["high"] - part["mean"]], fmt="o",
                    color="C0", capsize=3)
        ax.axvline(0, color="0.4", lw=1, ls="--")
        ax.set(yticks=y, yticklabels=[term(g) for g in part["gate"]], xlabel=term("accuracy minus no gate (points)"),
               title=f"{cue} cue")
        ax.invert_yaxis()
    fig.tight_layout()
    return fig


def scores_per_input(models, task, inputs=12, seed=10_000):
    """Heatmaps of gate scores, one row per input and one column per channel; the speaker marked with a dot."""
    x, _, speakers = generate(task, inputs, seed)
    fig, axes = plt.subplots(1, len(models), figsize=(4.3 * len(models), 3.8), squeeze=False)
    for ax, (name, model) in zip(axes[0], models.items()):
        model.eval()
        scores = model.scores(x).detach().numpy()
        image = ax.imshow(scores, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.scatter(speakers.numpy(), np.arange(inputs), s=18, color="white", edgecolor="black", label=term("speaker"))
        ax.set_title(term(GATE_LABELS[name]), fontsize=10)
        ax.set(xlabel=term("channel"), ylabel=term("input") if ax is axes[0, 0] else "",
               xticks=range(task.channels))
    fig.colorbar(image, ax=axes[0].tolist(), label=term("score"), shrink=0.8)
    axes[0, 0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return fig


def sweep_plot(frame, cue):
    """Against the cue's strength: the gate's mean score on the speaking and the silent channels, and accuracy."""
    long = frame.melt(id_vars=["strength", "seed"], value_vars=["speaking", "silent"], var_name="channel",
                      value_name="mean score")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    sns.lineplot(long, x="strength", y="mean score", hue="channel", marker="o", errorbar=("ci", 95), ax=axes[0])
    sns.lineplot(frame, x="strength", y="accuracy", marker="o", errorbar=("ci", 95), ax=axes[1], color="C2")
    axes[0].set(ylim=(0, 1), xlabel=f"{cue} cue strength", title=term("Gate scores (mean over inputs; band: 95% CI over seeds)"))
    axes[1].set(xlabel=f"{cue} cue strength", ylabel=term("test accuracy (%)"), title=term("Accuracy"))
    fig.tight_layout()
    return fig
