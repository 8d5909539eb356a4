"""The gate checker: no false alarm on correct gates, and each common mistake caught by the property it breaks."""
import subprocess
import sys

import pytest
import torch
from torch import nn

from cbam_helpers import CBAM, ChannelAttention, ChannelGate, SqueezeExcitation, check_gate
from cbam_helpers.nn.attention import GATES
from cbam_helpers.nn.checker import maps_with


def mlp(channels, hidden):
    return nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))


class TimmStyle(nn.Module):
    """timm's layout: 1x1 convolutions without bias, gated features out."""

    def __init__(self, channels, ratio=16):
        super().__init__()
        hidden = max(1, channels // ratio)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def branch(self, x):
        return self.fc2(torch.relu(self.fc1(x)))

    def forward(self, x):
        avg, mx = x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
        return x * torch.sigmoid(self.branch(avg) + self.branch(mx))


class Broken(nn.Module):
    """CBAM's channel gate with one mistake, named by ``mistake``; scores (B, C) out."""

    def __init__(self, mistake, channels=32, ratio=4):
        super().__init__()
        self.mistake = mistake
        hidden = channels // ratio
        self.mlp = mlp(channels, hidden)
        if mistake == "two MLPs":
            self.other = mlp(channels, hidden)
        if mistake == "BatchNorm inside":
            self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                     nn.Linear(hidden, channels))
        if mistake == "fixed kernel":
            self.max_pool, self.avg_pool = nn.MaxPool2d(7), nn.AvgPool2d(7)

    def forward(self, x):
        avg, mx = x.mean((2, 3)), x.amax((2, 3))
        m = self.mistake
        if m == "no sigmoid":
            return self.mlp(avg) + self.mlp(mx)
        if m == "avg + avg":
            return torch.sigmoid(self.mlp(avg) + self.mlp(avg))
        if m == "max + max":
            return torch.sigmoid(self.mlp(mx) + self.mlp(mx))
        if m == "two MLPs":
            return torch.sigmoid(self.mlp(avg) + self.other(mx))
        if m == "MLP of the sum":
            return torch.sigmoid(self.mlp(avg + mx))
        if m == "fixed kernel":  # global only on a 7x7 map; on a larger one, the top-left window
            avg, mx = self.avg_pool(x)[..., 0, 0], self.max_pool(x)[..., 0, 0]
            return torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        if m == "pooled over the batch":
            avg = x.mean((0, 2, 3)).expand_as(avg)
            return torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        if m == "sigmoid after the sum of sigmoids":
            return (torch.sigmoid(self.mlp(avg)) + torch.sigmoid(self.mlp(mx))) / 2
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))  # "BatchNorm inside" and "zero width": as written


def failed(report):
    return {check.name for check in report.failures}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("channels, ratio", [(3, 1), (6, 2), (16, 16), (64, 16), (320, 16), (1280, 16)])
def test_no_false_alarm_on_correct_gates(seed, channels, ratio):
    torch.manual_seed(seed)
    for module, kind, descriptor in [(ChannelAttention(channels, ratio), "scores", "both"),
                                     (SqueezeExcitation(channels, ratio), "scores", "avg"),
                                     (ChannelGate(channels, ratio), "gated", "both"),
                                     (TimmStyle(channels, ratio), "gated", "both"),
                                     (GATES["eca"](channels), "gated", "avg")]:
        report = check_gate(module, kind=kind, descriptor=descriptor, channels=channels, seed=seed)
        assert report.ok, f"{type(module).__name__}:\n{report}"


def test_no_false_alarm_in_float32_or_on_channels_last_modules():
    gate = ChannelAttention(64, 16).to(memory_format=torch.channels_last)
    assert check_gate(gate, size=(5, 9)).ok
    # a module that refuses float64 is probed in its own float32, with a float32 tolerance
    class Fixed(ChannelAttention):
        def forward(self, x):
            if x.dtype != torch.float32:
                raise TypeError("float32 only")
            return super().forward(x)
    assert check_gate(Fixed(64, 16)).ok


@pytest.mark.parametrize("mistake, breaks, words", [
    ("no sigmoid", "scores in (0, 1)", "sigmoid"),
    ("avg + avg", "avg and max, one MLP, summed", "avg + avg"),
    ("max + max", "avg and max, one MLP, summed", "max + max"),
    ("two MLPs", "avg and max, one MLP, summed", "two MLPs"),
    ("MLP of the sum", "avg and max, one MLP, summed", "MLP(avg + max)"),
    ("fixed kernel", "a 14x14 map", "fixed pooling kernel"),
    ("pooled over the batch", "per image (eval mode)", "batch"),
    ("BatchNorm inside", "per image (training mode)", "BatchNorm"),
    ("sigmoid after the sum of sigmoids", "avg and max, one MLP, summed", "otherwise"),
])
@pytest.mark.parametrize("seed, channels, ratio", [(0, 32, 4), (1, 32, 4), (2, 64, 16), (3, 64, 16)])
def test_each_mistake_is_named(mistake, breaks, words, seed, channels, ratio):
    torch.manual_seed(seed)
    report = check_gate(Broken(mistake, channels, ratio), seed=seed)
    assert not report.ok
    assert breaks in failed(report), str(report)
    message = next(c.message for c in report.failures if c.name == breaks)
    assert words in message, message


def test_zero_hidden_width_is_named_as_such():
    """The official code's C // r: 8 // 16 = 0 hidden units leave the second layer's bias alone."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns that it initialises an empty weight
        gate = Broken("zero width", channels=8, ratio=16)
    report = check_gate(gate)
    assert failed(report) == {"a hidden layer with units", "the input matters"}
    message = next(c.message for c in report.failures if c.name == "a hidden layer with units")
    assert "0 units" in message and "8 // r = 0" in message
    assert next(c for c in report.checks if c.name.startswith("avg and max")).passed is None


class Narrow(nn.Module):
    """A gate at a small width written as a reader might: ``C // r`` hidden units (0 below C = r) or at least one,
    combining the descriptors ``correct``ly, as ``avg + avg`` or as an MLP of their sum."""

    def __init__(self, combination, channels, ratio=16, at_least_one=True, activation=nn.ReLU):
        super().__init__()
        hidden = max(1, channels // ratio) if at_least_one else channels // ratio
        self.combination = combination
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), activation(), nn.Linear(hidden, channels))

    def forward(self, x):
        avg, mx = x.mean((2, 3)), x.amax((2, 3))
        logits = {"correct": lambda: self.mlp(avg) + self.mlp(mx), "avg + avg": lambda: self.mlp(avg) * 2,
                  "MLP of the sum": lambda: self.mlp(avg + mx)}[self.combination]()
        return torch.sigmoid(logits)


SMALL = [8, 12, 16]
NAMED = {"avg + avg": "avg + avg", "MLP of the sum": "MLP(avg + max)"}


@pytest.mark.parametrize("channels", SMALL)
@pytest.mark.parametrize("combination", NAMED)
@pytest.mark.parametrize("seed", range(6))
def test_small_width_mistakes_are_named_at_one_hidden_unit(channels, combination, seed):
    """At r = 16 and C = 8, 12, 16 a max(1, C // r) gate has one hidden unit, which may be on (or off) over a
    whole probe; the checker keeps probing until it can tell, so it never passes the mistake."""
    torch.manual_seed(seed)
    report = check_gate(Narrow(combination, channels), seed=seed)
    assert not report.ok
    message = next(c.message for c in report.failures if c.name == "avg and max, one MLP, summed")
    assert NAMED[combination] in message, str(report)


@pytest.mark.parametrize("channels", SMALL)
@pytest.mark.parametrize("seed", range(6))
def test_a_correct_gate_with_one_hidden_unit_passes(channels, seed):
    torch.manual_seed(seed)
    report = check_gate(Narrow("correct", channels), seed=seed)
    assert report.ok, str(report)


@pytest.mark.parametrize("channels", SMALL)
@pytest.mark.parametrize("combination", ["correct", *NAMED])
def test_small_width_gates_with_c_over_r_hidden_units(channels, combination):
    """C // 16 is 0 at C = 8 and 12 (named as a hidden layer of 0 units) and 1 at 16 (probed as above)."""
    import warnings

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check_gate(Narrow(combination, channels, at_least_one=False))
    if channels // 16 == 0:
        assert {"a hidden layer with units", "the input matters"} <= failed(report)
    elif combination == "correct":
        assert report.ok, str(report)
    else:
        assert NAMED[combination] in next(c.message for c in report.failures
                                          if c.name == "avg and max, one MLP, summed")


@pytest.mark.parametrize("combination", ["correct", "MLP of the sum"])
def test_a_probe_that_cannot_tell_refuses_instead_of_passing(combination):
    """With no ReLU the MLP is linear, and on a linear MLP MLP(avg + max) equals a correct gate with other biases:
    no probe can tell them apart, so the check is refused, with the reason, for both."""
    torch.manual_seed(0)
    report = check_gate(Narrow(combination, 16, activation=nn.Identity))
    check = next(c for c in report.checks if c.name == "avg and max, one MLP, summed")
    assert check.passed is None and not report.ok
    assert "cannot tell at C=16" in check.message and "linear between" in check.message


def test_se_checked_as_cbam_and_cbam_as_se():
    assert "avg and max, one MLP, summed" in failed(check_gate(SqueezeExcitation(32, 4)))
    report = check_gate(ChannelAttention(32, 4), descriptor="avg")
    assert failed(report) == {"the average alone"}
    from cbam_helpers.nn.attention import MaxPoolAttention

    message = check_gate(MaxPoolAttention(32, 4), descriptor="avg").failures[0].message
    assert "maximum, not its average" in message


def test_a_module_that_raises_is_a_failure_not_a_crash():
    class Raises(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    report = check_gate(Raises(), channels=16)
    assert not report.ok and len(report.checks) == 1
    assert "RuntimeError: boom" in report.failures[0].message


def test_wrong_shapes_and_a_spatial_gate_are_named():
    report = check_gate(ChannelGate(32, 4), kind="scores")
    assert "scores are (4, 32, 1, 1)" in report.failures[0].message
    report = check_gate(CBAM(32, 4), kind="gated")
    assert "does not multiply each channel by one number" in report.failures[0].message


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        check_gate(ChannelAttention(8, 2), kind="features")
    with pytest.raises(ValueError, match="descriptor"):
        check_gate(ChannelAttention(8, 2), descriptor="max")
    with pytest.raises(TypeError, match="nn.Module"):
        check_gate(lambda x: x)
    with pytest.raises(ValueError, match="channels=C"):
        check_gate(nn.Identity())


def test_the_probe_maps_have_the_average_and_maximum_asked_for():
    average, maximum = torch.tensor([[-1.0, 0.2]]), torch.tensor([[2.0, 0.2]])
    maps = maps_with(average, maximum, (3, 4))
    torch.testing.assert_close(maps.mean((2, 3)), average)
    torch.testing.assert_close(maps.amax((2, 3)), maximum)


def test_the_report_prints_every_property():
    report = check_gate(Broken("avg + avg"))
    text = str(report)
    assert "1 failed" in text and text.count("FAIL") == 1
    assert all(check.name in text for check in report.checks)
    assert max(map(len, text.splitlines()[1:])) <= 78  # fits a book's page


def run_command(*args):
    return subprocess.run([sys.executable, "-m", "cbam_helpers", "check", *args], capture_output=True, text=True)


def test_command_checks_a_class_by_name():
    done = run_command("cbam_helpers.nn.attention:ChannelAttention", "--channels", "64", "--ratio", "16")
    assert done.returncode == 0, done.stderr
    assert "every property holds" in done.stdout
    done = run_command("cbam_helpers.nn.attention:SqueezeExcitation", "--channels", "64", "--ratio", "16")
    assert done.returncode == 1 and "avg + avg" in done.stdout
    done = run_command("cbam_helpers.nn.attention:ChannelGate", "--channels", "64", "--kind", "gated")
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_command("cbam_helpers.nn.attention:CBAM", "--channels", "64", "--kind", "gated")
    assert done.returncode == 1 and "spatial" in done.stdout  # the whole CBAM is no channel gate


def test_command_errors_are_clear():
    done = run_command("no_such_package.gates:Gate", "--channels", "8")
    assert done.returncode == 2 and "cannot import 'no_such_package.gates'" in done.stderr
    done = run_command("cbam_helpers.nn.attention:NoSuchGate", "--channels", "8")
    assert done.returncode == 2 and "has no attribute 'NoSuchGate'" in done.stderr
    done = run_command("cbam_helpers.nn.attention", "--channels", "8")
    assert done.returncode == 2 and "package.module:ClassName" in done.stderr
    done = run_command("torch.nn:Flatten", "--channels", "8")
    assert done.returncode == 1 and "does not run on a (B, C, H, W) input" in done.stderr


class HardCBAM(nn.Module):
    """CBAM's channel gate with MobileNetV3's hard sigmoid; ``both=False`` feeds the average twice (a mistake)."""

    def __init__(self, channels=32, ratio=4, both=True):
        super().__init__()
        self.mlp, self.both = mlp(channels, channels // ratio), both

    def forward(self, x):
        second = x.amax((2, 3)) if self.both else x.mean((2, 3))
        return nn.functional.hardsigmoid(self.mlp(x.mean((2, 3))) + self.mlp(second))


def test_a_hard_sigmoid_is_named_as_saturation_and_checked_with_its_flag():
    from cbam_helpers.nn.placements import mobilenet_v3_gated

    se = mobilenet_v3_gated().features[4].block[2]  # torchvision's SE: average, Hardsigmoid
    plain = check_gate(se, kind="gated", descriptor="avg", channels=se.fc1.in_channels)
    failed = [c for c in plain.checks if c.passed is False]
    assert [c.name for c in failed] == ["scores in (0, 1)"]
    assert "hard sigmoid" in failed[0].message and "missing" not in failed[0].message
    assert check_gate(se, kind="gated", descriptor="avg", channels=se.fc1.in_channels, hard_sigmoid=True).ok
    torch.manual_seed(0)
    assert check_gate(HardCBAM(), hard_sigmoid=True).ok
    caught = check_gate(HardCBAM(both=False), hard_sigmoid=True)
    assert not caught.ok and "avg + avg" in str(caught)


def test_scores_outside_zero_one_still_name_a_missing_sigmoid():
    torch.manual_seed(0)
    no_sigmoid = mlp(32, 8)
    report = check_gate(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), no_sigmoid), channels=32,
                        hard_sigmoid=True)
    assert any(c.passed is False and "sigmoid of Mc is missing" in c.message for c in report.checks)
