"""A synthetic task where CBAM's spatial gate is the whole story: where the class is changes from input to input.

Every input has ``channels`` channels of Gaussian noise. A small square *patch*, at a position drawn at
random per input, carries the class in every channel: a faint grating whose orientation is the label. The
patch is also a little brighter than the noise around it (``cue_strength``), a cue that the channel-mean map
of CBAM's spatial gate can see. ``distractors`` adds that many uncued patches of random orientation. A channel gate cannot help: every channel carries the same patch, and global
pooling over positions discards where it is. A network without a gate averages its features over every
position, most of them noise; a spatial gate that finds the patch can close the rest first.
"""
from dataclasses import dataclass, replace

import torch
from torch import nn

from cbam_helpers.nn.attention import ChannelAttention, ChannelScale, SpatialAttention
from cbam_helpers.synthetic.channel_tasks import SmallNet, gratings


@dataclass(frozen=True)
class SpatialTask:
    """What the inputs look like; ``but(...)`` gives a variant."""

    channels: int = 4
    size: int = 16
    classes: int = 4
    patch: int = 5
    grating: float = 0.6
    cue_strength: float = 1.0
    distractors: int = 0

    def __post_init__(self):
        if self.channels < 1 or self.classes < 2 or not 2 <= self.patch <= self.size:
            raise ValueError(f"need channels >= 1, classes >= 2, 2 <= patch <= size; got {self.channels}, "
                             f"{self.classes}, {self.patch} (size {self.size})")

    def but(self, **changes):
        return replace(self, **changes)

    name = "spatial"

    def sample(self, n, seed):
        return generate(self, n, seed)

    def network(self, gate="none", **options):
        return SpatialNet(self, gate, **options)


def generate(task, n, seed):
    """``(inputs, labels, corners)``: inputs (n, C, size, size); corners (n, 2), the patch's top-left (row, column)."""
    generator = torch.Generator().manual_seed(seed)
    c, s, p = task.channels, task.size, task.patch
    x = torch.randn(n, c, s, s, generator=generator)
    labels = torch.randint(task.classes, (n,), generator=generator)
    corners = torch.randint(s - p + 1, (n, 2), generator=generator)
    patches = gratings(labels, p, task.classes, task.grating, generator) + task.cue_strength
    for _ in range(task.distractors):  # uncued gratings of random orientation, drawn first so the patch is on top
        others = gratings(torch.randint(task.classes, (n,), generator=generator), p, task.classes, task.grating,
                          generator)
        where = torch.randint(s - p + 1, (n, 2), generator=generator)
        for i, (row, column) in enumerate(where.tolist()):
            x[i, :, row:row + p, column:column + p] += others[i]
    for i, (row, column) in enumerate(corners.tolist()):
        x[i, :, row:row + p, column:column + p] += patches[i]
    return x, labels, corners


def patch_masks(task, corners):
    """(n, size, size) booleans: True inside each input's patch."""
    rows = torch.arange(task.size)
    inside = lambda start: (rows[None] >= start[:, None]) & (rows[None] < start[:, None] + task.patch)
    return inside(corners[:, 0])[:, :, None] & inside(corners[:, 1])[:, None, :]


ARRANGEMENTS = ("none", "channel", "spatial", "channel-spatial", "parallel", "spatial-channel")
"""The front ends: no gate, each gate alone, and the three orderings of the CBAM paper's ablation:
channel then spatial (CBAM), both maps from the same input (parallel), spatial then channel."""


class GatePair(nn.Module):
    """CBAM's channel gate ``Mc`` and spatial gate ``Ms``, arranged as ``order`` says.

    ``channel``: ``Mc(F) F``; ``spatial``: ``Ms(F) F``; ``channel-spatial``: ``F' = Mc(F) F``, then
    ``Ms(F') F'`` (CBAM); ``spatial-channel``: the reverse; ``parallel``: ``Mc(F) Ms(F) F``, both maps
    computed from ``F``.
    """

    def __init__(self, channels, order, reduction_ratio=1.0, spatial_kernel=7):
        super().__init__()
        if order not in ARRANGEMENTS[1:]:
            raise ValueError(f"order must be one of {ARRANGEMENTS[1:]}, got {order!r}")
        self.order = order
        self.channel_gate = ChannelAttention(channels, reduction_ratio) if "channel" in order or (
            order == "parallel") else None
        self.spatial_gate = SpatialAttention(spatial_kernel) if order != "channel" else None

    def forward(self, x):
        if self.order == "channel":
            return x * self.channel_gate(x)
        if self.order == "spatial":
            return x * self.spatial_gate(x)
        if self.order == "parallel":
            return x * self.channel_gate(x) * self.spatial_gate(x)
        if self.order == "channel-spatial":
            x = x * self.channel_gate(x)
            return x * self.spatial_gate(x)
        x = x * self.spatial_gate(x)
        return x * self.channel_gate(x)


class SpatialNet(SmallNet):
    """Chapter 2b's network (:class:`~cbam_helpers.synthetic.channel_tasks.SmallNet`) with this task's front ends
    (:data:`ARRANGEMENTS`, and ``'scale'``), by default after the first convolution, as a gate in a real network
    gates features."""

    def __init__(self, task, gate="none", width=16, reduction_ratio=1.0, place="conv"):
        super().__init__(task, gate, width, reduction_ratio, place)

    @staticmethod
    def make_gate(name, channels, reduction_ratio=1.0):
        if name not in ARRANGEMENTS + ("scale",):
            raise ValueError(f"gate must be one of {ARRANGEMENTS + ('scale',)}, got {name!r}")
        if name == "scale":  # the control for a channel gate: learned constants, one per channel
            return ChannelScale(channels)
        return None if name == "none" else GatePair(channels, name, reduction_ratio)

    @torch.no_grad()
    def spatial_map(self, x):
        """The spatial gate's map for each input, (B, H, W), computed where the gate computes it."""
        gate = self.gate
        if getattr(gate, "spatial_gate", None) is None:
            raise ValueError("this network has no spatial gate")
        if self.place == "conv":
            x = self.conv1(x)
        if gate.order == "channel-spatial":
            x = x * gate.channel_gate(x)
        return gate.spatial_gate(x)[:, 0]


PREDICTIONS = {
    "channel": "open", "spatial": "helps", "channel-spatial": "helps", "parallel": "helps",
    "spatial-channel": "helps",
}
"""What the mechanism predicts, each gate after the first convolution minus no gate, written before the chapter's
ten-seed runs (after a four-seed pilot that chose the task's settings and the gate's place): any arrangement
with a spatial gate can find the patch. A channel gate cannot find it, since global pooling discards where the
patch is, but it can rescale the first convolution's feature channels, which the mechanism says nothing about:
left open. Between the orderings the mechanism predicts nothing."""

LABELS = {"none": "no gate", "channel": "channel gate", "spatial": "spatial gate",
          "channel-spatial": "CBAM (channel, then spatial)", "parallel": "parallel (both from F)",
          "spatial-channel": "spatial, then channel", "scale": "constant channel scale"}


def mean_inside_and_outside(model, task, n=256, seed=10_000):
    """The spatial gate's mean score inside each fresh input's patch and outside it, (n,) each."""
    x, _, corners = generate(task, n, seed)
    model.eval()
    maps, inside = model.spatial_map(x), patch_masks(task, corners)
    return (maps * inside).sum((1, 2)) / inside.sum((1, 2)), (maps * ~inside).sum((1, 2)) / (~inside).sum((1, 2))


def prediction_table(comparisons):
    """One row per front end against no gate: the prediction, the paired gap and its 95% interval, the verdict."""
    import pandas as pd

    from cbam_helpers.synthetic.channel_tasks import prediction_columns

    ordered = sorted(comparisons.items(), key=lambda item: list(LABELS).index(item[0]))
    return pd.DataFrame([{"front end": LABELS[gate], **prediction_columns(PREDICTIONS.get(gate, "open"), c)}
                         for gate, c in ordered])
