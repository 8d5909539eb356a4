"""The descriptor probe of :func:`~cbam_helpers.nn.checker.check_gate`: maps with a chosen average ``A`` and maximum
``M`` per channel against constant maps at ``A`` and at ``M``, which tells ``sigmoid(MLP(A) + MLP(M))`` from
``avg + avg``, ``max + max``, ``MLP(avg + max)`` and two unshared MLPs (the checker's docstring derives it).
"""
import functools

import torch
from torch import nn

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


def hard_logit(scores):
    """The inverse of a hard sigmoid, clip(z / 6 + 1/2, 0, 1), on its linear part (saturated scores give +-3)."""
    return 6 * scores - 3


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


def descriptor_check(probe, descriptor, channels, size, randn, close, link=logit):
    """The probe of the module docstring: maps with given (A, M) against constant maps at A and at M.

    A pair can tell the combinations apart only where the constant maps' logits differ between A and M (else
    ``avg + avg`` looks right) and, for CBAM, where they are not linear between A and M (else ``MLP(avg + max)``
    looks right: on a linear stretch it equals a correct gate with other biases). At a hidden width of 1 or 2
    every unit may be on, or off, over a whole pair, so more pairs are tried; when none can tell, the check
    is not passed but refused (``passed=None``) with the reason. ``link`` inverts the gate's squashing function.
    """
    differs = lambda a, b: bool(((a - b).abs() > 1e-3 * (1 + b.abs())).any())  # well beyond the tolerance
    pairs = [Pair(probe, size, *values, link=link) for values in probe_pairs(randn, channels)]
    distinct = nonlinear = False
    for index, pair in enumerate(pairs):
        expected = pair.at_average if descriptor == "avg" else (pair.at_average + pair.at_maximum) / 2
        if not close(pair.mixed, expected):
            return diagnose(descriptor, pairs, index, close)
        distinct = distinct or differs(pair.at_average, pair.at_maximum)
        nonlinear = nonlinear or (descriptor == "both" and differs(pair.at_middle, expected))
        if distinct and (descriptor == "avg" or nonlinear):
            return True, ""
    width = hidden_width(probe.module, channels)
    units = f"a hidden layer of {width} unit{'s' if width != 1 else ''}" if width else "a narrow MLP"
    seen = "the same at the average and at the maximum" if not distinct else "linear between the two"
    return None, (f"the probe cannot tell at C={channels}: for every probe pair the constant maps' scores were "
                  f"{seen}, as {units} gives when its units are all on, or all off, over the pair; check the "
                  "gate at a larger C or a smaller r")


class Pair:
    """One (A, M) probe, its logits computed when first asked for: the mixed map's, and the constant maps' at A,
    at M and at their midpoint."""

    def __init__(self, probe, size, average, maximum, other_average, other_maximum, link=logit):
        self.probe, self.size, self.link = probe, size, link
        self.average, self.maximum = average, maximum
        self.other_average, self.other_maximum = other_average, other_maximum

    def scores(self, average, maximum):
        return self.link(self.probe(maps_with(average, maximum, self.size)))

    def at(self, value):
        """The logit of the constant map at ``value``, whose average and maximum are both ``value``."""
        return self.link(self.probe(constant_maps(value, self.size)))

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


def diagnose(descriptor, pairs, failing, close):
    """Name the likeliest mistake behind a failed descriptor probe: the wrong combinations whose prediction holds
    on every pair (a narrow MLP can make a wrong one hold on a single pair by chance). ``avg + avg`` gives the
    mixed map the constant map's logit at A, ``max + max`` at M, and ``MLP(avg + max)`` at (A + M) / 2."""
    holds = lambda prediction: all(close(pair.mixed, prediction(pair)) for pair in pairs)
    if descriptor == "avg":
        if holds(lambda pair: pair.at_maximum):
            return False, ("the scores follow each channel's maximum, not its average: max pooling "
                           "where SE pools the average")
        return False, ("something besides the channel's average reaches the scores (the maximum "
                       "too?); SE's gate sees the average alone")
    if holds(lambda pair: pair.at_average):
        return False, ("the scores follow the average alone: avg + avg (the max descriptor never "
                       "reaches the MLP), or SE's gate where CBAM's was meant")
    if holds(lambda pair: pair.at_maximum):
        return False, ("the scores follow the maximum alone: max + max (the average descriptor never "
                       "reaches the MLP)")
    if holds(lambda pair: pair.at_middle):
        return False, ("the scores depend on avg + max alone: the MLP is applied to the summed "
                       "descriptors, MLP(avg + max), where CBAM sums MLP(avg) + MLP(max)")
    pair = pairs[failing]
    separable = close(pair.mixed + pair.scores(pair.other_average, pair.other_maximum),
                      pair.scores(pair.average, pair.other_maximum) + pair.scores(pair.other_average, pair.maximum))
    if separable:
        return False, ("the scores are f(avg) + g(max) with f != g: two MLPs, one per descriptor, "
                       "where CBAM shares one")
    return False, ("the two descriptors are combined otherwise than sigmoid(MLP(avg) + MLP(max)) "
                   "(concatenated, multiplied, or summed after the sigmoid?)")
