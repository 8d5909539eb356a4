"""Where a gate goes in the blocks practitioners use, and what it costs there.

Three placements, each built from torchvision's own blocks:

* :class:`GatedBottleneck`: ResNet's bottleneck with a gate on the residual branch, after the last batch norm
  and before the addition, where the CBAM paper puts CBAM;
* :func:`mobilenet_v3_gated`: torchvision's MobileNetV3, whose blocks hold an SE gate after the depthwise
  convolution, with that gate swapped for any of the package's (or removed);
* MobileNetV2 with a gate in every block (``MobileNet("blocks")``), the book's own placement.

:func:`costs` counts parameters and FLOPs (``torch.utils.flop_counter``) and times whole training steps in
interleaved rounds, so that a gate's price is read against the same network without it.
"""
import statistics
import time
from functools import partial

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import mobilenet_v3_small
from torchvision.models.mobilenetv2 import InvertedResidual as V2Block
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops.misc import SqueezeExcitation as TorchvisionSE

from .attention import GATES
from .mobilenet import MobileNet, count_parameters


def build_gate(name, channels, reduction_ratio=16):
    """``GATES[name]`` at ``reduction_ratio`` when it has an MLP, at its only ratio otherwise."""
    build = GATES[name]
    return build(channels, reduction_ratio) if getattr(build, "has_reduction_ratio", True) else build(channels)


class GatedBottleneck(Bottleneck):
    """torchvision's ``Bottleneck`` with ``gate`` on the residual branch:
    after ``bn3``, before the addition."""

    def __init__(self, *args, gate="cbam-spatial", reduction_ratio=16,
                 **kwargs):
        super().__init__(*args, **kwargs)
        channels = self.bn3.num_features
        self.gate = build_gate(gate, channels, reduction_ratio)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.gate(self.bn3(self.conv3(out)))  # the branch only
        return self.relu(out + identity)


def resnet50_gated(gate=None, reduction_ratio=16, num_classes=10):
    """ResNet-50 with ``gate`` in each of its 16 bottlenecks (``None``: torchvision's plain ResNet-50)."""
    if gate is None:
        return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)
    block = partial(GatedBottleneck, gate=gate, reduction_ratio=reduction_ratio)
    block.expansion = Bottleneck.expansion  # ResNet reads the class attribute off what it is given
    return ResNet(block, [3, 4, 6, 3], num_classes=num_classes)


def mobilenet_v3_gated(gate="torchvision", reduction_ratio=16, num_classes=10):
    """torchvision's MobileNetV3-Small with its SE gates as built (``'torchvision'``), removed (``None``), or
    replaced, at the same places, by ``GATES[gate]`` on the same (expanded) channels."""
    model = mobilenet_v3_small(num_classes=num_classes)
    if gate == "torchvision":
        return model
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, TorchvisionSE):
                channels = child.fc1.in_channels
                setattr(parent, name, nn.Identity() if gate is None else build_gate(gate, channels,
                                                                                     reduction_ratio))
    return model


def mobilenet_v2_gated(gate=None, reduction_ratio=16, num_classes=10):
    """The book's MobileNetV2 with ``gate`` in every inverted-residual block (``None``: no gate)."""
    if gate is None:
        return MobileNet(num_classes=num_classes)
    return MobileNet("blocks", reduction_ratio=reduction_ratio if getattr(GATES[gate], "has_reduction_ratio", True)
                     else 1.0, gate=gate, num_classes=num_classes)


def v2_blocks(model=None):
    """MobileNetV2's 17 inverted-residual blocks: channels in and out, stride, and whether an identity path exists."""
    model = model or MobileNet()
    return [dict(block=i, channels_in=b.conv[0][0].in_channels, channels_out=b.out_channels, stride=b.stride,
                 identity=b.use_res_connect)
            for i, b in enumerate(m for m in model.features if isinstance(m, V2Block))]


def flops_per_image(model, size):
    """Forward FLOPs for one ``size`` x ``size`` image, as ``FlopCounterMode`` counts them (matmuls, convolutions)."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:  # not under no_grad: the counter's module tracker hooks into autograd
        model(torch.randn(1, 3, size, size))
    return counter.get_total_flops()


def step_seconds(models, size, batch, rounds=3, steps=2, warmup=1, seed=0, clock=time.process_time):
    """Median seconds of one SGD training step per model, the models timed in interleaved rounds.

    A model with an ``input_channel`` attribute other than 3 (:class:`~cbam_helpers.MobileNet`) is fed that many
    channels. ``clock`` is the process's CPU time by default, on one thread: on a machine that runs other work it counts
    what the step itself computes, where wall time would count the waiting too (pass ``time.perf_counter``
    for wall time on a quiet machine).

    Interleaving, in a shuffled order each round, spreads whatever else the machine does over every model
    alike; the median of the rounds is robust to a round that caught a hiccup.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=generator)
    y = torch.randint(10, (batch,), generator=generator)
    by_channels = {3: x}  # a model with an ``input_channel`` other than 3 gets that many channels, RGB first
    for model in models.values():
        channels = getattr(model, "input_channel", 3)
        if channels not in by_channels:
            extra = torch.randn(batch, channels - 3, size, size, generator=generator)
            by_channels[channels] = torch.cat((x, extra), 1)
    trainers = {name: (model.train(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
                for name, model in models.items()}

    def step(model, optimizer):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(by_channels[getattr(model, "input_channel", 3)]), y).backward()
        optimizer.step()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return interleaved(trainers, step, rounds, steps, warmup, seed, clock)
    finally:
        torch.set_num_threads(threads)


def interleaved(trainers, step, rounds, steps, warmup, seed, clock):
    for model, optimizer in trainers.values():
        for _ in range(warmup):
            step(model, optimizer)
    times = {name: [] for name in trainers}
    order = list(trainers)
    shuffle = torch.Generator().manual_seed(seed + 1)
    for _ in range(rounds):  # a fresh order each round, so no model always follows the same one
        for name in [order[i] for i in torch.randperm(len(order), generator=shuffle)]:
            model, optimizer = trainers[name]
            start = clock()
            for _ in range(steps):
                step(model, optimizer)
            times[name].append((clock() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


AGAIN = "no gate (again)"
"""A second copy of the network without a gate, timed like the others: the yardstick of the timing's noise."""


def costs(build, gates, size=64, batch=16, rounds=5, steps=2):
    """One row per gate, after the network without one and a second copy of it (:data:`AGAIN`): parameters,
    forward FLOPs per image and CPU milliseconds per training step, each also as a change from the first copy."""
    import pandas as pd

    torch.manual_seed(0)
    models = {"no gate": build(None), AGAIN: build(None), **{name: build(name) for name in gates}}
    seconds = step_seconds(models, size, batch, rounds, steps)
    frame = pd.DataFrame([dict(gate=name, parameters=count_parameters(model),
                               mflops=flops_per_image(model, size) / 1e6, step_ms=1000 * seconds[name])
                          for name, model in models.items()])
    base = frame.iloc[0]
    frame["added parameters"] = frame.parameters - base.parameters
    frame["FLOPs (%)"] = 100 * (frame.mflops / base.mflops - 1)
    frame["step time (%)"] = 100 * (frame.step_ms / base.step_ms - 1)
    return frame


def hidden_widths(channels, reduction_ratio=16):
    """The MLP's hidden width at ``channels`` by three rules: the official code's ``C // r``, timm's
    ``make_divisible(C / r, 1, round_limit=0)`` (round to nearest, at least 1), and this package's ``int(C / r)``,
    which it refuses when 0 (``None`` here)."""
    package = int(channels / reduction_ratio)
    return dict(channels=channels, official=channels // reduction_ratio,
                timm=max(1, int(channels / reduction_ratio + 0.5)), package=package or None)
