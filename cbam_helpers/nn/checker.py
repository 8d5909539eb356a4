"""Check a channel gate someone wrote: probe it with crafted inputs and name the mistake it makes.

A correct channel gate ``Mc(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))`` (or SE's, average alone) has
properties that can be tested from outside, without training: its scores lie in (0, 1); they depend on each
channel's global average and maximum alone, so they survive a shuffle of the positions and a larger map with
the same statistics; an image's scores do not depend on the rest of its batch; and they change with the input.
The last probe tells the ways of combining two descriptors apart. Build maps ``F`` whose channels have
average ``A`` and maximum ``M``; a constant map at ``A`` has both descriptors equal to ``A``. For
``sigmoid(f(A) + f(M))`` the logit of ``F`` is the mean of the logits of the constant maps at ``A`` and at
``M``: ``f(A) + f(M) = (2 f(A) + 2 f(M)) / 2``. ``avg + avg`` gives ``F`` the logit of the map at ``A``,
``max + max`` that of the map at ``M``, an MLP of the summed descriptors depends on ``A + M`` alone, and two
unshared MLPs stay a sum of a function of ``A`` and one of ``M`` that the mean does not reproduce.

A narrow MLP (one hidden unit at ``C = 16, r = 16``) can hide a mistake: when its units are all on, or all off,
over a probe, ``avg + avg`` and ``MLP(avg + max)`` give the same answer there as the correct gate. The checker
then tries more probes, farther out, until one can tell; if none can, it refuses the check (``not tested``) and
says why rather than pass it. A hidden layer of zero units (``C // r`` for ``C < r``) is named as such.

:func:`check_gate` runs every probe on a copy of the module, in float64 where the module allows it, and returns
a :class:`GateReport`.
"""
import copy
import textwrap
from dataclasses import dataclass

import torch
from torch import nn

from cbam_helpers.nn.descriptor_probe import (descriptor_check, descriptor_check_name, hard_logit, hidden_width, logit,
                                              maps_with)

KINDS = ("scores", "gated")
DESCRIPTORS = ("both", "avg")


@dataclass(frozen=True)
class Check:
    """One property: its name, whether it held (``None``: not tested), and what a failure most likely means."""

    name: str
    passed: object
    message: str = ""

    @property
    def status(self):
        return {True: "pass", False: "FAIL", None: "not tested"}[self.passed]


@dataclass(frozen=True)
class GateReport:
    """What :func:`check_gate` found: ``ok`` only when every property held; ``failures`` the ones that did not."""

    checks: tuple
    kind: str
    descriptor: str
    channels: int

    @property
    def ok(self):
        return all(check.passed is True for check in self.checks)

    @property
    def failures(self):
        return [check for check in self.checks if check.passed is False]

    def __str__(self):
        lines = [f"channel gate check ({self.kind}, descriptor={self.descriptor!r}, C={self.channels}): "
                 + ("every property holds" if self.ok else f"{len(self.failures)} failed")]
        for check in self.checks:
            lines.append(f"  {check.status:10s} {check.name}")
            lines += textwrap.wrap(check.message, 76, initial_indent=" " * 13, subsequent_indent=" " * 13)
        return "\n".join(lines)

    __repr__ = __str__


class ProbeError(Exception):
    """The module raised, or returned something that is not scores, on a probe."""


def infer_channels(module):
    """``C`` from the module's own attributes, else from its first ``Linear`` or 1x1 ``Conv2d``; ``None`` if unknown."""
    for name in ("input_channels", "channels", "in_channels", "channel", "in_planes", "gate_channels"):
        value = getattr(module, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            return layer.in_features
        if isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1):
            return layer.in_channels
    return None


class Prober:
    """Calls the module on a probe and returns its scores as (B, C), whatever form it returns them in."""

    def __init__(self, module, kind, channels, dtype):
        self.module, self.kind, self.channels, self.dtype = module, kind, channels, dtype

    def __call__(self, x):
        x = x.to(self.dtype)
        try:
            with torch.no_grad():
                out = self.module(x)
        except Exception as error:  # a reader's module may raise anything; the report says what
            raise ProbeError(f"raised on an input of shape {tuple(x.shape)}: "
                             f"{type(error).__name__}: {error}") from error
        if isinstance(out, (tuple, list)):
            raise ProbeError(f"returned a {type(out).__name__}; a gate returns one tensor")
        if not isinstance(out, torch.Tensor):
            raise ProbeError(f"returned {type(out).__name__}, not a tensor")
        out = out.to(torch.float64)
        batch, channels = x.shape[:2]
        if self.kind == "scores":
            if out.shape not in ((batch, channels, 1, 1), (batch, channels)):
                raise ProbeError(f"returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}; "
                                 f"scores are ({batch}, {channels}, 1, 1) or ({batch}, {channels})")
            return out.reshape(batch, channels)
        if out.shape != x.shape:
            raise ProbeError(f"returned shape {tuple(out.shape)}; gated features keep the input's {tuple(x.shape)}")
        x = x.to(torch.float64)
        scores = (out * x).sum((2, 3)) / (x * x).sum((2, 3))  # least squares: out = score * x, per channel
        residual = (out - scores[..., None, None] * x).abs().amax()
        if residual > 1e-4 * (1 + out.abs().amax()):
            raise ProbeError("does not multiply each channel by one number: the output is not score * input "
                             f"(largest misfit {residual.item():.2g}); a spatial gate or an added term?")
        return scores


def check_gate(module, kind="scores", descriptor="both", channels=None, size=(7, 7), seed=0, hard_sigmoid=False):
    """Probe ``module`` (any ``nn.Module`` that takes (B, C, H, W)) and report which gate properties hold.

    ``kind``: ``'scores'`` when it returns the scores, (B, C, 1, 1) or (B, C); ``'gated'`` when it returns the
    gated features, the input's shape. ``descriptor``: ``'both'`` for CBAM, ``'avg'`` for SE (and ECA).
    ``channels`` is read from the module when it is not given; ``size`` is the probes' (H, W).
    ``hard_sigmoid=True`` checks a gate whose scores saturate at exactly 0 and 1 (MobileNetV3's ``Hardsigmoid``):
    its scores must lie in [0, 1] instead of (0, 1).
    The module itself is never changed: every probe runs on a copy, in eval mode (training mode for the batch
    statistics probe).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if descriptor not in DESCRIPTORS:
        raise ValueError(f"descriptor must be one of {DESCRIPTORS}, got {descriptor!r}")
    if not isinstance(module, nn.Module):
        raise TypeError(f"check_gate takes an nn.Module, got {type(module).__name__}")
    channels = channels or infer_channels(module)
    if channels is None:
        raise ValueError("cannot tell how many channels the module gates; pass channels=C")
    height, width = size
    if height * width < 4:
        raise ValueError(f"size must leave at least 4 positions, got {size}")
    generator = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)
    x = randn(4, channels, height, width)
    probe, precision = prober(module, kind, channels, x)
    tolerance = 1e-7 if precision == torch.float64 else 2e-4

    def close(a, b):
        return bool(((a - b).abs() <= tolerance * (1 + b.abs())).all())

    checks = []
    try:
        reference = probe(x)
    except ProbeError as error:
        return GateReport((Check("runs on (B, C, H, W)", False, f"the module {error}"),), kind, descriptor, channels)
    checks.append(Check("runs on (B, C, H, W)", True))
    hidden = hidden_width(module, channels)
    checks.append(Check("a hidden layer with units", hidden != 0, "" if hidden != 0 else
                        f"the MLP's hidden layer has 0 units (C // r = {channels} // r = 0 for any r > {channels}): "
                        "it passes nothing on, so the scores are the last layer's biases alone, the same for "
                        "every input; use max(1, C // r) hidden units or a smaller r"))

    # per-channel offsets give the descriptors both signs, so that ReLU units dead for x come alive
    shifted = x + 3 * randn(1, channels, 1, 1)
    others = torch.cat((probe(3 * x + 1), probe(shifted)))
    samples = torch.cat((reference, others))
    closed = bool(((samples >= 0) & (samples <= 1)).all())
    in_range = closed if hard_sigmoid else bool(((samples > 0) & (samples < 1)).all())
    if in_range:
        message = ""
    elif closed:  # only a saturating gate reaches 0 or 1 exactly: name it, not a missing sigmoid
        message = ("scores reach exactly 0 or 1: the gate saturates, as a hard sigmoid does (MobileNetV3's "
                   "Hardsigmoid, clip(z / 6 + 1/2, 0, 1)); check it with hard_sigmoid=True")
    else:
        message = (f"scores range over [{samples.min():.3g}, {samples.max():.3g}]: the sigmoid of Mc is missing "
                   "(or another activation stands in its place)")
    checks.append(Check("scores in [0, 1]" if hard_sigmoid else "scores in (0, 1)", in_range, message))

    def attempt(name, test, mistake):
        """Run one probe; a module that raises on it fails the property with its error."""
        try:
            passed = test()
        except ProbeError as error:
            checks.append(Check(name, False, f"the module {error}"))
            return
        checks.append(Check(name, passed, "" if passed else mistake))

    permutation = torch.randperm(height * width, generator=generator)
    shuffled = x.flatten(2)[..., permutation].reshape(x.shape)
    attempt("positions shuffled", lambda: close(probe(shuffled), reference),
            "the scores change when the positions are shuffled: the pooling is not global over H x W "
            "(a kernel or stride smaller than the map, or pooling over the wrong dimensions)")
    larger = x.repeat_interleave(2, 2).repeat_interleave(2, 3)  # each position twice in each direction
    attempt(f"a {2 * height}x{2 * width} map", lambda: close(probe(larger), reference),
            "a map of twice the size with the same average and maximum gets other scores: the pooling is "
            f"global only at {height}x{width} (a fixed pooling kernel instead of a global mean and max)")
    channels_last = x.contiguous(memory_format=torch.channels_last)
    attempt("channels_last input", lambda: close(probe(channels_last), reference),
            "a channels_last copy of the input gets other scores: a .view or reshape that assumes NCHW memory")

    companions = randn(4, channels, height, width) * 5 + 2
    alone = lambda: close(probe(torch.cat((x[:1], companions[1:])))[:1], reference[:1]) and close(
        probe(x[:1])[:1], reference[:1])
    attempt("per image (eval mode)", alone,
            "an image's scores depend on the other images of its batch: a statistic taken over the batch "
            "dimension (pooling over dim 0?)")
    trained = Prober(copy.deepcopy(probe.module).train(), kind, channels, probe.dtype)

    def alone_in_training():
        torch.manual_seed(seed)
        together = trained(torch.cat((x[:1], companions[1:])))[:1]
        torch.manual_seed(seed)
        return close(together, trained(torch.cat((x[:1], x[1:])))[:1])
    attempt("per image (training mode)", alone_in_training,
            "in training, an image's scores depend on the rest of its batch: BatchNorm (or another batch "
            "statistic) inside the gate")

    # a narrow MLP's units may all be off for these inputs; an offset and its opposite, large enough to swamp
    # the biases, turn on any unit whose weights it does not miss
    offsets = [k * randn(1, channels, 1, 1) for k in (3, 10, 30)]
    farther = (x + sign * offset for offset in offsets for sign in (1, -1))
    changes = not close(others, reference.repeat(2, 1)) or any(not close(probe(z), reference) for z in farther)
    checks.append(Check("the input matters", changes, "" if changes else
                        "the scores do not change with the input: only biases reach the sigmoid (a hidden width of "
                        "zero, as C // r gives when C < r, or a detached or constant descriptor)"))
    if not (in_range and changes):
        checks.append(Check(descriptor_check_name(descriptor), None,
                            "needs scores in range that change with the input"))
    else:
        try:
            checks.append(Check(descriptor_check_name(descriptor),
                                *descriptor_check(probe, descriptor, channels, size, randn, close,
                                                  link=hard_logit if hard_sigmoid else logit)))
        except ProbeError as error:
            checks.append(Check(descriptor_check_name(descriptor), False, f"the module {error}"))
    return GateReport(tuple(checks), kind, descriptor, channels)


def prober(module, kind, channels, x):
    """A :class:`Prober` on an eval-mode copy in float64, or in the module's own dtype if float64 fails."""
    try:
        double = copy.deepcopy(module).eval().to(torch.float64)
        Prober(double, kind, channels, torch.float64)(x[:1])
        return Prober(double, kind, channels, torch.float64), torch.float64
    except Exception:  # a module that fixes its dtype inside forward: probe it as it is
        dtype = next((p.dtype for p in module.parameters()), torch.float32)
        return Prober(copy.deepcopy(module).eval(), kind, channels, dtype), dtype
