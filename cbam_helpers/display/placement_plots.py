"""Figures of the placement chapter: a block as a chain of boxes with its gate, and what each gate costs."""
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from cbam_helpers.display.plots import label_size
from cbam_helpers.engine.costs import AGAIN
from cbam_helpers.nn.placements import v2_blocks
from cbam_helpers.language import term, text


def block_diagram(steps, gate, identity, title, ax=None):
    """A block as a chain of boxes with the gate highlighted at index ``gate``; ``identity`` draws the
    identity path to an addition at the end (a string labels it, e.g. 'only when stride 1 and C_in = C_out')."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 1.9))
        fig.patch.set_facecolor("white")
    ax.axis("off")
    width, gap = 1.3, 0.3
    ax.set(xlim=(-0.9, len(steps) * (width + gap) + 0.9), ylim=(-0.2, 1.9), title=title)
    for i, text in enumerate(steps):
        x = i * (width + gap)
        colour = "#f5b7b1" if i == gate else "#d6eaf8"
        ax.add_patch(FancyBboxPatch((x, 0.3), width, 0.6, boxstyle="round,pad=0.04", fc=colour, ec="0.3"))
        ax.text(x + width / 2, 0.6, text, ha="center", va="center", fontsize=label_size(), color="black")
        if i:
            ax.annotate("", xy=(x, 0.6), xytext=(x - gap, 0.6), arrowprops=dict(arrowstyle="->", color="0.2"))
    end = len(steps) * (width + gap) - gap
    ax.annotate("", xy=(-0.05, 0.6), xytext=(-0.8, 0.6), arrowprops=dict(arrowstyle="->", color="0.2"))
    if identity:
        ax.text(end + 0.35, 0.6, "+", ha="center", va="center", fontsize=14)
        ax.annotate("", xy=(end + 0.25, 0.6), xytext=(end, 0.6), arrowprops=dict(arrowstyle="->", color="0.2"))
        ax.plot([-0.5, -0.5, end + 0.35, end + 0.35], [0.6, 1.55, 1.55, 0.8], color="#b03a2e", lw=1.2)
        label = identity if isinstance(identity, str) else text("identity", "恒等路径")
        ax.text(end / 2, 1.62, label, ha="center", fontsize=label_size(), color="#b03a2e")
    return ax.figure


def placement_diagrams():
    """The three placements of the placement chapter, one row each; the gate is the red box."""
    fig, axes = plt.subplots(3, 1, figsize=(10, 6.2))
    fig.patch.set_facecolor("white")
    expand, project = text("conv 1x1\nexpand", "conv 1x1\n扩展"), text("conv 1x1\nproject", "conv 1x1\n投影")
    depthwise, stride_one = text("depthwise", "深度卷积"), text("only when stride 1 and C_in = C_out",
                                                            "仅当步幅为 1 且 C_in = C_out")
    block_diagram(["conv 1x1", "BN, ReLU", "conv 3x3", "BN, ReLU", "conv 1x1", "BN", "CBAM"], 6,
                  text("identity (a 1x1 projection where the shape changes)", "恒等路径（形状改变处为 1x1 投影）"),
                  text("ResNet bottleneck: CBAM on the residual branch, before the addition",
                       "ResNet 瓶颈块：CBAM 在残差分支上，加法之前"), axes[0])
    block_diagram([expand, "BN, act", f"{depthwise}\nk x k", "BN, act", "SE\n(1/4, hard σ)", project, "BN"], 4,
                  stride_one, text("MobileNetV3 block: SE after the depthwise convolution, on the expanded channels",
                                   "MobileNetV3 块：SE 在深度卷积之后，作用于扩展后的通道"), axes[1])
    blocks = v2_blocks()
    with_identity = sum(b["identity"] for b in blocks)
    block_diagram([expand, "BN, ReLU6", f"{depthwise}\n3x3", "BN, ReLU6", project, "BN", text("gate", "门")], 6,
                  stride_one + text(f" ({with_identity} of {len(blocks)} blocks)",
                                    f"（{len(blocks)} 个块中的 {with_identity} 个）"),
                  text("MobileNetV2 block, the book's 'blocks': after the projection's BN, before the addition",
                       "MobileNetV2 块，本书的 'blocks'：在投影的 BN 之后，加法之前"), axes[2])
    fig.tight_layout()
    return fig


def step_time_bars(tables):
    """``{placement: costs frame}``: each gate's change in step time and in FLOPs (%), one panel per placement;
    the grey band is the change measured for a second copy of the network without a gate."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 3.6), sharex=False, squeeze=False)
    for ax, (title, frame) in zip(axes[0], tables.items()):
        rows = frame[(frame.gate != "no gate") & (frame.gate != AGAIN)].reset_index(drop=True)
        noise = abs(float(frame.loc[frame.gate == AGAIN, "step time (%)"].iloc[0]))
        y = range(len(rows))
        ax.axvspan(-noise, noise, color="0.88", zorder=0, label=term("noise (the copy)"))
        ax.barh([v + 0.2 for v in y], rows["step time (%)"], height=0.4, color="C0", label=term("step time"))
        ax.barh([v - 0.2 for v in y], rows["FLOPs (%)"], height=0.4, color="C1", label=term("FLOPs"))
        ax.set(yticks=list(y), yticklabels=rows.gate, title=title, xlabel=term("added (%)"))
        ax.invert_yaxis()
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
