"""Figures of the spatial-gate chapter: the gate's shapes, example inputs, and the gate's maps input by input."""
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, Rectangle

from cbam_helpers.display.plots import label_size
from cbam_helpers.synthetic.spatial_tasks import LABELS, generate
from cbam_helpers.language import term


def spatial_gate_diagram():
    """CBAM's spatial gate as a flow chart with shapes: pool across channels -> 7x7 conv -> sigmoid -> scale."""
    fig, ax = plt.subplots(figsize=(10, 2.6))
    fig.patch.set_facecolor("white")  # readable on the book's dark theme too
    ax.set(xlim=(0, 10.2), ylim=(0.1, 2.9))
    ax.axis("off")
    boxes = [("F", 0.1, 1.0, "feature map F\n(B, C, H, W)"), ("avg", 1.95, 1.8, "mean over C\n(B, 1, H, W)"),
             ("max", 1.95, 0.2, "max over C\n(B, 1, H, W)"), ("cat", 3.75, 1.0, "stack\n(B, 2, H, W)"),
             ("conv", 5.25, 1.0, "conv 7x7, 2 -> 1\n(B, 1, H, W)"), ("sig", 7.0, 1.0, "sigmoid\nMs"),
             ("out", 8.4, 1.0, "Ms * F\n(B, C, H, W)")]
    colours = {"F": "#d6eaf8", "avg": "#fdebd0", "max": "#fdebd0", "cat": "#e8daef", "conv": "#e8daef",
               "sig": "#d5f5e3", "out": "#d6eaf8"}
    width = {"F": 1.5, "avg": 1.45, "max": 1.45, "cat": 1.1, "conv": 1.5, "sig": 1.05, "out": 1.5}
    where = {}
    for name, x, y, text in boxes:
        w = width[name]
        ax.add_patch(FancyBboxPatch((x, y), w, 0.75, boxstyle="round,pad=0.05", fc=colours[name], ec="0.3"))
        ax.text(x + w / 2, y + 0.375, text, ha="center", va="center", fontsize=label_size(), color="black")
        where[name] = (x, y + 0.375, x + w)
    arrow = dict(arrowstyle="->", color="0.2", lw=1.2)
    for a, b in [("F", "avg"), ("F", "max"), ("avg", "cat"), ("max", "cat"), ("cat", "conv"), ("conv", "sig"),
                 ("sig", "out")]:
        ax.annotate("", xy=(where[b][0], where[b][1]), xytext=(where[a][2], where[a][1]), arrowprops=arrow)
    ax.text(9.15, 0.55, term("one score per position,\nthe same for every channel"), ha="center", va="top",
            fontsize=label_size(), color="#b03a2e")
    fig.tight_layout()
    return fig


def outline(ax, corner, patch, colour="black"):
    row, column = corner
    ax.add_patch(Rectangle((column - 0.5, row - 0.5), patch, patch, fill=False, lw=2, ec=colour))


def example_inputs(task, inputs=4, seed=0):
    """A few inputs, one row each: every channel, then the channel mean; the patch outlined."""
    x, labels, corners = generate(task, inputs, seed)
    panels = task.channels + 1
    fig, axes = plt.subplots(inputs, panels, figsize=(1.3 * panels, 1.35 * inputs), squeeze=False)
    for i in range(inputs):
        limit = float(x[i].abs().max())
        for c in range(panels):
            ax = axes[i, c]
            image = x[i, c] if c < task.channels else x[i].mean(0)
            ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set(xticks=[], yticks=[])
            outline(ax, corners[i].tolist(), task.patch)
            if i == 0:
                ax.set_title(f"{term('channel')} {c}" if c < task.channels else term("mean over C"), fontsize=8)
        axes[i, 0].set_ylabel(f"class {int(labels[i])}", fontsize=8)
    fig.tight_layout()
    return fig


def maps_per_input(models, task, inputs=6, seed=10_000):
    """One row per trained front end, one column per fresh input: the spatial gate's map, the patch outlined."""
    x, _, corners = generate(task, inputs, seed)
    fig, axes = plt.subplots(len(models), inputs, figsize=(1.45 * inputs + 1.6, 1.5 * len(models)), squeeze=False)
    for row, (name, model) in enumerate(models.items()):
        maps = model.spatial_map(x)
        for i in range(inputs):
            ax = axes[row, i]
            image = ax.imshow(maps[i], cmap="viridis", vmin=0, vmax=1)
            outline(ax, corners[i].tolist(), task.patch, colour="white")
            ax.set(xticks=[], yticks=[])
        axes[row, 0].set_ylabel(term(LABELS[name]).replace(" (", "\n("), fontsize=8)
    fig.colorbar(image, ax=axes.ravel().tolist(), label="Ms", shrink=0.8)
    return fig


def accuracies(frame):
    """Each front end's test accuracy: one dot per seed, the mean with its 95% t-interval."""
    import seaborn as sns

    frame = frame.assign(**{"front end": frame["gate"].map(LABELS)})
    order = [LABELS[g] for g in LABELS if g in set(frame["gate"])]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    sns.stripplot(frame, x="accuracy", y="front end", order=order, color="0.6", jitter=0.15, ax=ax)
    sns.pointplot(frame, x="accuracy", y="front end", order=order, errorbar=("ci", 95), linestyle="none",
                  color="C3", markers="D", ax=ax)
    ax.set(xlabel=term("test accuracy (%)"), ylabel="")
    fig.tight_layout()
    return fig


def paired_gaps(groups):
    """Forest plot: ``{panel title: {gate: PairedComparison}}``, each gap with its 95% interval; zero marked."""
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 2.9), squeeze=False)
    for ax, (title, comparisons) in zip(axes[0], groups.items()):
        names = list(comparisons)
        means = [comparisons[n].mean for n in names]
        lows = [comparisons[n].mean - comparisons[n].interval[0] for n in names]
        highs = [comparisons[n].interval[1] - comparisons[n].mean for n in names]
        ax.errorbar(means, range(len(names)), xerr=[lows, highs], fmt="o", color="C0", capsize=3)
        ax.axvline(0, color="0.4", lw=1, ls="--")
        ax.set(yticks=range(len(names)), yticklabels=[term(LABELS[n]) for n in names], title=title,
               xlabel=term("accuracy difference (points)"))
        ax.invert_yaxis()
    fig.tight_layout()
    return fig

