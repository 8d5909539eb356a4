"""Figures the chapters show: learning curves, attention per channel, attention over epochs, placements."""
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .records import history_frame

CHANNEL_NAMES = ("R", "G", "B", "noise 1", "noise 2", "noise 3")


def learning_curves(records, title):
    """Test accuracy and training loss per epoch, one line per configuration (mean over seeds, band = spread)."""
    frame = history_frame(records)
    frame["test accuracy (%)"] = 100 * frame["test_accuracy"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.lineplot(frame, x="epoch", y="test accuracy (%)", hue="configuration", marker="o", ax=axes[0],
                 errorbar=("pi", 100))
    sns.lineplot(frame, x="epoch", y="train_loss", hue="configuration", marker="o", ax=axes[1],
                 errorbar=("pi", 100), legend=False)
    axes[0].set(title="Test accuracy", xlabel="epoch")
    axes[1].set(title="Training loss", xlabel="epoch", ylabel="cross-entropy (nats)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def attention_bars(attention, post_attention, title):
    """Mean attention per input channel, ours beside the post's reported values."""
    names = CHANNEL_NAMES[: len(attention)]
    frame = pd.DataFrame({"channel": names * 2, "mean attention": list(attention) + list(post_attention),
                          "source": ["this book"] * len(names) + ["reported by the post"] * len(names)})
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.barplot(frame, x="channel", y="mean attention", hue="source", ax=ax)
    ax.set(ylim=(0, 1.05), ylabel="mean score over 64 test images", xlabel="input channel", title=title)
    fig.tight_layout()
    return fig


def attention_over_epochs(record, title):
    """Mean attention per input channel after each epoch of one run."""
    rows = [dict(epoch=e["epoch"], channel=CHANNEL_NAMES[c], score=s)
            for e in record["history"] for c, s in enumerate(e["attention"])]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    sns.lineplot(pd.DataFrame(rows), x="epoch", y="score", hue="channel", marker="o", ax=ax)
    ax.set(ylim=(0, 1.05), ylabel="mean score over 64 test images", title=title)
    ax.legend(title="input channel", ncol=2)
    fig.tight_layout()
    return fig


def placements_diagram():
    """MobileNetV2's path from image to logits, with the three places a CBAM gate can sit."""
    stages = ["input\n(B, C_in, H, W)", "stem conv\n3x3, stride 2", "17 inverted-\nresidual blocks",
              "1x1 conv\n1280 channels", "global\naverage pool", "classifier\n(B, 10)"]
    # x position of each gate: between input and stem, over the blocks, between 1x1 conv and pooling
    gates = {1.3: "'first'", 3.55: "'blocks'\n(inside each)", 5.8: "'last'"}
    fig, ax = plt.subplots(figsize=(11, 2.6))
    for i, text in enumerate(stages):
        ax.add_patch(plt.Rectangle((i * 1.5, 0), 1.1, 1, facecolor="#dde7f3", edgecolor="#345"))
        ax.text(i * 1.5 + 0.55, 0.5, text, ha="center", va="center", fontsize=9)
        if i:
            ax.annotate("", xy=(i * 1.5, 0.5), xytext=(i * 1.5 - 0.4, 0.5), arrowprops=dict(arrowstyle="->"))
    for x, text in gates.items():
        ax.text(x, 1.45, f"CBAM {text}", ha="center", va="bottom", fontsize=9, color="#b03a2e")
        ax.annotate("", xy=(x, 1.02), xytext=(x, 1.42), arrowprops=dict(arrowstyle="->", color="#b03a2e"))
    ax.set(xlim=(-0.2, 8.9), ylim=(-0.2, 2.2))
    ax.axis("off")
    fig.tight_layout()
    return fig
