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
import functools
import textwrap
from dataclasses import dataclass

import torch
from torch import nn

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


def maps_with(average, maximum, size):
    """(B, C, H, W) maps whose channel c has mean ``average[:, c]`` and maximum ``maximum[:, c]`` (one peak)."""
    height, width = size
    n = height * width
    rest = (n * average - maximum) / (n - 1)  # <= maximum whenever average <= maximum
    maps = rest[..., None].repeat(1, 1, n)
    maps[..., n // 2] = maximum  # the peak sits inside the map, away from the borders a kernel would favour
    return maps.reshape(*average.shape, height, width)


def constant_maps(value, size):
    return value[..., None, None].expand(*value.shape, *size).clone()


def logit(scores):
    return torch.log(scores) - torch.log1p(-scores)


def check_gate(module, kind="scores", descriptor="both", channels=None, size=(7, 7), seed=0):
    """Probe ``module`` (any ``nn.Module`` that takes (B, C, H, W)) and report which gate properties hold.

    ``kind``: ``'scores'`` when it returns the scores, (B, C, 1, 1) or (B, C); ``'gated'`` when it returns the
    gated features, the input's shape. ``descriptor``: ``'both'`` for CBAM, ``'avg'`` for SE (and ECA).
    ``channels`` is read from the module when it is not given; ``size`` is the probes' (H, W).
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
    in_range = bool(((samples > 0) & (samples < 1)).all())
    checks.append(Check("scores in (0, 1)", in_range, "" if in_range else
                        f"scores range over [{samples.min():.3g}, {samples.max():.3g}]: the sigmoid of Mc is missing "
                        "(or another activation stands in its place)"))

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
                            "needs scores in (0, 1) that change with the input"))
    else:
        try:
            checks.append(descriptor_check(probe, descriptor, channels, size, randn, close))
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


def descriptor_check_name(descriptor):
    return "avg and max, one MLP, summed" if descriptor == "both" else "the average alone"


def probe_pairs(randn, channels):
    """(A, M) pairs for the descriptor probe: first the usual one, then pairs of growing spread around random
    centres, tried only while the earlier ones cannot tell (a narrow MLP whose units are all on or all off)."""
    low = -0.5 - 1.5 * randn(2, channels).abs()   # averages, well below ...
    high = 0.5 + 2.5 * randn(2, channels).abs()   # ... the maxima, so every (A, M) pair below is a valid map
    yield low[:1], high[:1], low[1:], high[1:]
    for scale in (1.0, 2.0, 4.0, 8.0):
        for _ in range(4):
            centre = 0.5 * scale * randn(1, channels)
            yield (centre - scale * randn(1, channels).abs(), centre + scale * randn(1, channels).abs(),
                   centre - scale * randn(1, channels).abs(), centre + scale * randn(1, channels).abs())


def hidden_width(module, channels):
    """The narrowest layer fed the ``channels`` descriptors (a Linear or a 1x1 Conv2d), or ``None``."""
    widths = [layer.out_features for layer in module.modules()
              if isinstance(layer, nn.Linear) and layer.in_features == channels]
    widths += [layer.out_channels for layer in module.modules()
               if isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.in_channels == channels]
    return min(widths) if widths else None


def descriptor_check(probe, descriptor, channels, size, randn, close):
    """The probe of the module docstring: maps with given (A, M) against constant maps at A and at M.

    A pair can tell the combinations apart only where the constant maps' logits differ between A and M (else
    ``avg + avg`` looks right) and, for CBAM, where they are not linear between A and M (else ``MLP(avg + max)``
    looks right: on a linear stretch it equals a correct gate with other biases). At a hidden width of 1 or 2
    every unit may be on, or off, over a whole pair, so more pairs are tried; when none can tell, the check
    is not passed but refused (``passed=None``) with the reason.
    """
    name = descriptor_check_name(descriptor)
    at = lambda value: logit(probe(constant_maps(value, size)))
    differs = lambda a, b: bool(((a - b).abs() > 1e-3 * (1 + b.abs())).any())  # well beyond the tolerance
    pairs = [Pair(probe, at, size, *values) for values in probe_pairs(randn, channels)]
    distinct = nonlinear = False
    for index, pair in enumerate(pairs):
        expected = pair.at_average if descriptor == "avg" else (pair.at_average + pair.at_maximum) / 2
        if not close(pair.mixed, expected):
            return diagnose(name, descriptor, pairs, index, close)
        distinct = distinct or differs(pair.at_average, pair.at_maximum)
        nonlinear = nonlinear or (descriptor == "both" and differs(pair.at_middle, expected))
        if distinct and (descriptor == "avg" or nonlinear):
            return Check(name, True)
    width = hidden_width(probe.module, channels)
    units = f"a hidden layer of {width} unit{'s' if width != 1 else ''}" if width else "a narrow MLP"
    return Check(name, None, f"the probe cannot tell at C={channels}: for every probe pair the constant maps' "
                             "scores were " + ("the same at the average and at the maximum" if not distinct else
                                               "linear between the average and the maximum")
                 + f", as {units} gives when its units are all on, or all off, over the pair; check the gate at a "
                   "larger C or a smaller r")


class Pair:
    """One (A, M) probe, its logits computed when first asked for: the mixed map's, and the constant maps' at A,
    at M and at their midpoint."""

    def __init__(self, probe, at, size, average, maximum, other_average, other_maximum):
        self.probe, self.at, self.size = probe, at, size
        self.average, self.maximum = average, maximum
        self.other_average, self.other_maximum = other_average, other_maximum

    def scores(self, average, maximum):
        return logit(self.probe(maps_with(average, maximum, self.size)))

    @functools.cached_property
    def mixed(self):
        return self.scores(self.average, self.maximum)

    @functools.cached_property
    def at_average(self):
        return self.at(self.average)

    @functools.cached_property
    def at_maximum(self):
        return self.at(self.maximum)

    @functools.cached_property
    def at_middle(self):
        return self.at((self.average + self.maximum) / 2)


def diagnose(name, descriptor, pairs, failing, close):
    """Name the likeliest mistake behind a failed descriptor probe: the wrong combinations whose prediction holds
    on every pair (a narrow MLP can make a wrong one hold on a single pair by chance). ``avg + avg`` gives the
    mixed map the constant map's logit at A, ``max + max`` at M, and ``MLP(avg + max)`` at (A + M) / 2."""
    holds = lambda prediction: all(close(pair.mixed, prediction(pair)) for pair in pairs)
    if descriptor == "avg":
        if holds(lambda pair: pair.at_maximum):
            return Check(name, False, "the scores follow each channel's maximum, not its average: max pooling "
                                      "where SE pools the average")
        return Check(name, False, "something besides the channel's average reaches the scores (the maximum "
                                  "too?); SE's gate sees the average alone")
    if holds(lambda pair: pair.at_average):
        return Check(name, False, "the scores follow the average alone: avg + avg (the max descriptor never "
                                  "reaches the MLP), or SE's gate where CBAM's was meant")
    if holds(lambda pair: pair.at_maximum):
        return Check(name, False, "the scores follow the maximum alone: max + max (the average descriptor never "
                                  "reaches the MLP)")
    if holds(lambda pair: pair.at_middle):
        return Check(name, False, "the scores depend on avg + max alone: the MLP is applied to the summed "
                                  "descriptors, MLP(avg + max), where CBAM sums MLP(avg) + MLP(max)")
    pair = pairs[failing]
    separable = close(pair.mixed + pair.scores(pair.other_average, pair.other_maximum),
                      pair.scores(pair.average, pair.other_maximum) + pair.scores(pair.other_average, pair.maximum))
    if separable:
        return Check(name, False, "the scores are f(avg) + g(max) with f != g: two MLPs, one per descriptor, "
                                  "where CBAM shares one")
    return Check(name, False, "the two descriptors are combined otherwise than sigmoid(MLP(avg) + MLP(max)) "
                              "(concatenated, multiplied, or summed after the sigmoid?)")
