"""A synthetic task where a channel gate is the whole story: which channel speaks changes from input to input.

Every input has ``channels`` channels of Gaussian noise. One of them, chosen at random per input (the
*speaker*), also carries the class: a faint grating whose orientation is the label. The speaker is marked
by a *cue* that a global descriptor can see:

* ``cue="mean"``: the speaker's pixels are shifted up by ``cue_strength``: its **average** stands out;
* ``cue="peak"``: ``spikes`` of its pixels are raised by ``cue_strength`` and the whole channel is lowered
  by the same total, so its expected average equals the others' and only its **maximum** stands out.

A network without a gate must find a faint grating under the noise of every channel it mixes; a gate that
reads the cue can close the silent channels first. A gate that cannot see the cue, or a constant one,
cannot know which channel to open.
"""
import math
import os
import time
from dataclasses import dataclass, replace

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from cbam_helpers.nn.attention import ChannelGate, ChannelScale
from cbam_helpers.evidence.comparisons import PairedComparison

CUES = ("mean", "peak")


@dataclass(frozen=True)
class Task:
    """What the inputs look like; ``but(...)`` gives a variant."""

    cue: str = "mean"
    channels: int = 8
    size: int = 12
    classes: int = 4
    grating: float = 0.8
    cue_strength: float = 0.5
    spikes: int = 4

    def __post_init__(self):
        if self.cue not in CUES:
            raise ValueError(f"cue must be one of {CUES}, got {self.cue!r}")
        if self.channels < 1 or self.size < 4 or self.classes < 2:
            raise ValueError(f"need channels >= 1, size >= 4, classes >= 2; got {self.channels}, {self.size}, "
                             f"{self.classes}")
        if not 1 <= self.spikes <= self.size ** 2:
            raise ValueError(f"spikes must lie in [1, size**2 = {self.size ** 2}], got {self.spikes}")

    def but(self, **changes):
        return replace(self, **changes)

    @property
    def name(self):
        return f"{self.cue} cue"

    def sample(self, n, seed):
        return generate(self, n, seed)

    def network(self, gate="none", **options):
        return SmallNet(self, gate, **options)


def gratings(labels, size, classes, amplitude, generator):
    """One grating per label: orientation ``label * pi / classes``, period 4 pixels, random phase. (n, size, size)"""
    angle = labels.float() * math.pi / classes
    phase = torch.rand(len(labels), generator=generator) * 2 * math.pi
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    along = xx * torch.cos(angle)[:, None, None] + yy * torch.sin(angle)[:, None, None]
    return amplitude * torch.sin(2 * math.pi * along / 4 + phase[:, None, None])


def generate(task, n, seed):
    """``(inputs, labels, speakers)``: inputs (n, channels, size, size), labels and speaking channels (n,)."""
    generator = torch.Generator().manual_seed(seed)
    c, s = task.channels, task.size
    x = torch.randn(n, c, s, s, generator=generator)
    labels = torch.randint(task.classes, (n,), generator=generator)
    speakers = torch.randint(c, (n,), generator=generator)
    rows = torch.arange(n)
    voice = gratings(labels, s, task.classes, task.grating, generator)
    if task.cue == "mean":
        voice = voice + task.cue_strength
    else:
        spots = torch.rand(n, s * s, generator=generator).argsort(1)[:, :task.spikes]
        peaks = torch.zeros(n, s * s).scatter_(1, spots, task.cue_strength).view(n, s, s)
        voice = voice + peaks - task.cue_strength * task.spikes / (s * s)
    x[rows, speakers] += voice
    return x, labels, speakers


MEAN_CUE = Task("mean", cue_strength=0.5)
"""The speaker's pixels are 0.5 higher: its average is 0.5 above the others' (whose averages spread by 1/12)."""
PEAK_CUE = Task("peak", cue_strength=4.0)
"""Four of the speaker's 144 pixels are 4 higher and the channel is lowered by 16/144: same expected average."""


GATE_NAMES = ("none", "constant", "avg", "max", "both")
"""The gates compared: none, CBAM's MLP fed learned descriptors (input-independent), SE's (average),
max alone, CBAM's (both)."""


def make_gate(name, channels, reduction_ratio=1.0):
    if name not in GATE_NAMES + ("scale",):
        raise ValueError(f"gate must be one of {GATE_NAMES + ('scale',)}, got {name!r}")
    if name == "none":
        return None
    if name == "scale":
        return ChannelScale(channels)
    return ChannelGate(channels, reduction_ratio, pooling=name)


class SmallNet(nn.Module):
    """``gate -> conv3x3 -> BN -> ReLU -> conv3x3/2 -> BN -> ReLU -> global average -> linear``.

    ``place="input"`` gates the input channels; ``place="conv"`` gates the first convolution's output.
    """

    def __init__(self, task, gate="none", width=16, reduction_ratio=1.0, place="input"):
        super().__init__()
        if place not in ("input", "conv"):
            raise ValueError(f"place must be 'input' or 'conv', got {place!r}")
        self.place = place
        self.gate = self.make_gate(gate, task.channels if place == "input" else width, reduction_ratio)
        self.conv1 = nn.Sequential(nn.Conv2d(task.channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                   nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU())
        self.head = nn.Linear(width, task.classes)

    make_gate = staticmethod(make_gate)
    """Builds the front end from its name; a subclass with other front ends overrides it."""

    def scores(self, x):
        """The gate's scores per input and channel, (B, C): what it lets through."""
        if self.gate is None:
            raise ValueError("this network has no gate")
        if self.place == "conv":
            x = self.conv1(x)
        return self.gate.channel_gate(x).flatten(1)

    def forward(self, x):
        if self.gate is not None and self.place == "input":
            x = self.gate(x)
        x = self.conv1(x)
        if self.gate is not None and self.place == "conv":
            x = self.gate(x)
        return self.head(self.conv2(x).mean((2, 3)))


@dataclass(frozen=True)
class Setting:
    """How much data and training one run gets."""

    train: int = 2000
    test: int = 1000
    epochs: int = 6
    batch_size: int = 64
    lr: float = 0.01


DEFAULT = Setting()
"""About 1 s of one CPU core per run (2,000 inputs of 8x12x12, 6 epochs)."""
QUICK = Setting(train=1000, test=500, epochs=3)
"""For nbval: a run in well under a second; its numbers mean little."""


def fit(task, gate="none", seed=0, setting=DEFAULT, **net_options):
    """Train ``task``'s network (:class:`SmallNet` here) on fresh data of ``task``; return ``dict(accuracy, model,
    seconds)``.

    Data, initialisation and batch order all follow ``seed``; the test set is drawn from another
    stream of the same seed, so no test input is a training input.
    """
    start = time.perf_counter()
    x, y, _ = task.sample(setting.train, seed=2 * seed)
    x_test, y_test, _ = task.sample(setting.test, seed=2 * seed + 1)
    torch.manual_seed(seed)
    model = task.network(gate, **net_options)
    optimizer = torch.optim.Adam(model.parameters(), lr=setting.lr)
    steps = setting.epochs * math.ceil(setting.train / setting.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, setting.lr, total_steps=steps)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(setting.epochs):
        for index in torch.randperm(setting.train, generator=order).split(setting.batch_size):
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return dict(accuracy=accuracy, model=model, seconds=time.perf_counter() - start)


@torch.no_grad()
def speaker_scores(model, task, n=256, seed=10_000):
    """Per fresh input: the gate's score on the speaking channel and the mean score on the silent ones."""
    x, _, speakers = generate(task, n, seed)
    model.eval()
    scores = model.scores(x)
    rows = torch.arange(n)
    speaking = scores[rows, speakers]
    silent = (scores.sum(1) - speaking) / (scores.shape[1] - 1)
    return dict(scores=scores, speakers=speakers, speaking=speaking, silent=silent)


def compare_gates(task, gates=GATE_NAMES, seeds=range(10), setting=DEFAULT, progress=True, **net_options):
    """Accuracy of every gate at every seed on ``task``: a long DataFrame (gate, seed, accuracy in %)."""
    jobs = [(gate, seed) for seed in seeds for gate in gates]
    rows = [dict(gate=gate, seed=seed, accuracy=100 * fit(task, gate, seed, setting, **net_options)["accuracy"])
            for gate, seed in tqdm(jobs, desc=task.name, disable=not progress)]
    return pd.DataFrame(rows)


def against(frame, baseline="none"):
    """Each gate minus ``baseline``, paired by seed (same data, same batch order): PairedComparisons by gate."""
    table = frame.pivot(index="seed", columns="gate", values="accuracy")
    return {gate: PairedComparison(baseline, gate, "synthetic", tuple(table.index),
                                   tuple(table[gate] - table[baseline]))
            for gate in table.columns if gate != baseline}


def sweep(task, strengths, gate="both", seeds=range(10), setting=DEFAULT, progress=True):
    """Per cue strength and seed: accuracy and the gate's mean score on the speaking and the silent channels."""
    rows = []
    jobs = [(strength, seed) for strength in strengths for seed in seeds]
    for strength, seed in tqdm(jobs, desc=f"{task.cue} cue strengths", disable=not progress):
        variant = task.but(cue_strength=strength)
        result = fit(variant, gate, seed, setting)
        scores = speaker_scores(result["model"], variant)
        rows.append(dict(strength=strength, seed=seed, accuracy=100 * result["accuracy"],
                         speaking=scores["speaking"].mean().item(), silent=scores["silent"].mean().item()))
    return pd.DataFrame(rows)


PREDICTIONS = {
    ("mean", "constant"): "cannot help", ("mean", "avg"): "helps", ("mean", "both"): "helps",
    ("peak", "constant"): "cannot help", ("peak", "avg"): "cannot help", ("peak", "max"): "helps",
    ("peak", "both"): "helps",
}
"""What the mechanism predicts, gate minus no gate: a constant cannot know which channel speaks; a descriptor
that does not see the cue cannot either. (Max alone on the mean cue is left open: the shift raises the
maximum too, but by less than the maximum's own spread.)"""


def gap_columns(comparison):
    """A paired comparison as table cells: the gap, its 95% interval and the number of seeds."""
    low, high = comparison.interval
    return {"gap (points)": f"{comparison.mean:+.1f}", "95% interval": f"[{low:+.1f}, {high:+.1f}]",
            "seeds": comparison.n}


def prediction_table(comparisons, labels=None):
    """One row per cue and gate: the prediction, the measured paired gap with its 95% interval, the verdict."""
    labels = labels or {}
    rows = []
    for cue, by_gate in comparisons.items():
        for gate, c in by_gate.items():
            rows.append({"cue": cue, "front end": labels.get(gate, gate),
                         **prediction_columns(PREDICTIONS.get((cue, gate), "open"), c)})
    return pd.DataFrame(rows)


def prediction_columns(predicted, comparison):
    """A prediction against a paired comparison as table cells: the prediction, the gap, what was measured,
    and whether it agrees (``-`` for an open prediction)."""
    measured = {"higher": "helps", "lower": "hurts"}.get(comparison.verdict, comparison.verdict)
    agrees = {"helps": measured == "helps", "cannot help": measured != "helps"}.get(predicted)
    return {"predicted": predicted, **gap_columns(comparison), "measured": measured,
            "as predicted": "-" if agrees is None else ("yes" if agrees else "no")}


def chapter_setting():
    """The chapter's runs: :data:`DEFAULT` and 10 seeds, or :data:`QUICK` and 3 seeds under ``CBAM_PROFILE=smoke``."""
    if os.environ.get("CBAM_PROFILE") == "smoke":
        return QUICK, range(3)
    return DEFAULT, range(10)


def versus_specialist(results, labels=None):
    """CBAM's gate against the single descriptor that sees each cue (SE on ``mean``, max on ``peak``), paired by seed."""
    labels = labels or {}
    rows = []
    for cue, specialist in (("mean", "avg"), ("peak", "max")):
        if cue not in results:
            continue
        c = against(results[cue], baseline=specialist)["both"]
        rows.append({"cue": cue, "CBAM minus": labels.get(specialist, specialist), **gap_columns(c),
                     "measured": {"higher": "CBAM higher", "lower": "CBAM lower"}.get(c.verdict, c.verdict)})
    return pd.DataFrame(rows)
