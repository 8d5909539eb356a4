"""Figures of the chapter that looks inside trained networks: class-activation maps, one gate's channels, the
first gate's scores image by image, and the fine-tunes after inserting gates."""
import matplotlib.pyplot as plt
import numpy as np
import torch
from pytorch_grad_cam.utils.image import show_cam_on_image
from torch.nn import functional as F

from cbam_helpers.engine.data import CLASSES
from cbam_helpers.language import term, text


def pixels_at(images, resolution):
    """uint8 (N, 3, 32, 32) -> float RGB (N, resolution, resolution, 3) in [0, 1], as the networks see them."""
    x = F.interpolate(images.float() / 255, size=(resolution, resolution), mode="bilinear", align_corners=False)
    return x.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def grad_cam_grid(images, cams, labels, predictions, columns=6):
    """One column per image: the image, then each network's map over it, titled with its prediction."""
    rgb = pixels_at(images[:columns], next(iter(cams.values())).shape[-1])
    fig, axes = plt.subplots(1 + len(cams), columns, figsize=(1.45 * columns, 1.6 * (1 + len(cams))))
    for i in range(columns):
        axes[0, i].imshow(rgb[i])
        axes[0, i].set_title(term(CLASSES[int(labels[i])]), fontsize=9)
        for row, (name, maps) in enumerate(cams.items(), start=1):
            axes[row, i].imshow(show_cam_on_image(rgb[i], maps[i], use_rgb=True))
            guess, truth = int(predictions[name][i]), int(labels[i])
            axes[row, i].set_title(term(CLASSES[guess]), fontsize=9, color="black" if guess == truth else "red")
    for row, name in enumerate(["image", *cams]):
        axes[row, 0].set_ylabel(term(name), fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def extreme_channels(image, activations, scores, k=4):
    """The image, then the maps of the ``k`` channels its gate scores highest and the ``k`` it scores lowest,
    each titled with its score, on one colour scale."""
    order = torch.argsort(scores, descending=True)
    chosen = [*order[:k].tolist(), *order[-k:].tolist()]
    top = float(activations[chosen].max())
    fig, axes = plt.subplots(1, 1 + 2 * k, figsize=(1.2 * (1 + 2 * k), 1.7))
    axes[0].imshow(pixels_at(image[None], 64)[0])
    axes[0].set_title(term("image"), fontsize=9)
    for ax, channel in zip(axes[1:], chosen):
        shown = ax.imshow(activations[channel], cmap="magma", vmin=0, vmax=top)
        ax.set_title(f"#{channel}\n{float(scores[channel]):.3f}", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=list(axes), fraction=0.02, pad=0.01, label=term("activation"))
    return fig


def score_spread(scores):
    """Every channel's score over the images, channels sorted by their mean: the mean, the middle 90% of images,
    and one image's scores."""
    scores = scores.numpy()
    order = np.argsort(scores.mean(0))
    low, high = np.percentile(scores[:, order], [5, 95], axis=0)
    fig, ax = plt.subplots(figsize=(7.5, 3))
    rank = np.arange(scores.shape[1])
    ax.fill_between(rank, low, high, color="tab:blue", alpha=0.25, label=term("middle 90% of images"))
    ax.plot(rank, scores.mean(0)[order], color="tab:blue", label=term("mean over images"))
    ax.plot(rank, scores[0, order], color="black", lw=0.5, alpha=0.7, label=term("one image"))
    ax.set_xlabel(term("channel, sorted by mean score"))
    ax.set_ylabel(term("score"))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def scores_by_image(scores, names):
    """The input gate's score on each channel, one dot per image."""
    scores = scores.numpy()
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(scores))
    for channel, name in enumerate(names):
        colour = "tab:red" if name.startswith("noise") else "tab:blue"
        ax.scatter(channel + jitter, scores[:, channel], s=6, alpha=0.5, color=colour)
    ax.set_xticks(range(len(names)), [term(n) for n in names])
    ax.set_ylabel(term("score"))
    ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def fine_tune_curves(records):
    """Curve accuracy at insertion and after each fine-tune pass, one line per start and seed: the whole range,
    and the passes after insertion up close."""
    fig, (whole, close) = plt.subplots(1, 2, figsize=(9.5, 3), gridspec_kw=dict(width_ratios=(1, 1.4)))
    colours = dict(zip(("no gate", "fresh", "open", "identity"), ("gray", "tab:red", "tab:orange", "tab:blue")))
    first_seed = min(r["seed"] for r in records)
    for record in records:
        curve = [100 * record["inserted_accuracy"], *(100 * e["test_accuracy"] for e in record["history"])]
        style = dict(marker="o", ms=3, color=colours[record["start"]], lw=1,
                     ls="-" if record["seed"] == first_seed else "--")
        whole.plot(range(len(curve)), curve, **style)
        start = term(record["start"], column="start")  # "open" is a start here, not an open gate
        label = text(", ", "，").join((start, term(f"seed {record['seed']}")))
        close.plot(range(1, len(curve)), curve[1:], label=label, **style)
    for ax in (whole, close):
        ax.axhline(100 * records[0]["trained_accuracy"], color="black", ls=":", lw=1)
        ax.set_xlabel(term("fine-tune pass (0: at insertion)"))
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    whole.set_ylabel(term("test accuracy (%), curve subset"))
    close.set_title(term("after insertion, up close (dotted: trained)"), fontsize=9)
    close.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # off the lines
    fig.tight_layout()
    return fig


def excitations_by_class(scores, labels, blocks):
    """The SE paper's excitation plot for each of ``blocks`` (numbered from 1): every channel's mean score over the
    images of each class, one line per class, channels in the order of their mean over all images."""
    fig, axes = plt.subplots(1, len(blocks), figsize=(2.6 * len(blocks), 2.8), sharey=True)
    colours = plt.get_cmap("tab10")
    for ax, block in zip(axes, blocks):
        per_image = scores[block - 1]
        order = torch.argsort(per_image.mean(0))
        for k, name in enumerate(CLASSES):
            ax.plot(per_image[labels == k].mean(0)[order].numpy(), color=colours(k), lw=0.9, label=term(name))
        ax.set_title(f"{term('block')} {block} (C = {per_image.shape[1]})", fontsize=9)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel(term("mean score over a class"))
    axes[-1].legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.supxlabel(term("channel, sorted by mean score"), fontsize=plt.rcParams["axes.labelsize"])
    fig.tight_layout()
    return fig


def gate_constancy(summary):
    """By block: how much of each gate's score variance is the same for every image (its channel means), and the
    accuracy change when its scores are replaced by those means."""
    fig, (share, cost) = plt.subplots(1, 2, figsize=(8.5, 2.8), sharex=True)
    blocks = summary["block"]
    share.bar(blocks, summary["constant part (%)"], color="tab:blue")
    share.set_ylabel(term("constant part (%)"))
    share.set_ylim(0, 100)
    cost.bar(blocks, summary["held constant (points)"], color="tab:red")
    cost.axhline(0, color="black", lw=0.8)
    cost.set_ylabel(term("accuracy change (points)"))
    for ax in (share, cost):
        ax.set_xlabel(term("block"))
        ax.set_xticks(list(blocks)[::2])
    fig.tight_layout()
    return fig
