"""Gates in torchvision's blocks: where each placement puts the gate, its parameter counts, the hidden widths."""
import pytest
import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from cbam_helpers import CBAM, ChannelGate
from cbam_helpers.nn.attention import GATES
from cbam_helpers.engine.costs import AGAIN, flops_per_image, gate_costs, step_seconds
from cbam_helpers.nn.placements import (GatedBottleneck, hidden_widths, mobilenet_v2_gated, mobilenet_v3_gated,
                                        resnet50_gated, v2_blocks)


def cbam_parameters(channels, r=16, spatial=True):
    hidden = channels // r
    return 2 * channels * hidden + hidden + channels + (2 * 7 * 7 if spatial else 0)


def test_the_bottleneck_gate_scales_the_branch_not_the_identity():
    torch.manual_seed(0)
    block = GatedBottleneck(256, 64, gate="scale").eval()
    with torch.no_grad():
        block.gate.channel_gate.logits.fill_(-100.0)  # a gate that shuts every channel
    x = torch.randn(2, 256, 8, 8)
    torch.testing.assert_close(block(x), torch.relu(x))  # only the identity is left
    plain = Bottleneck(256, 64).eval()
    plain.load_state_dict({k: v for k, v in block.state_dict().items() if not k.startswith("gate.")})
    with torch.no_grad():
        block.gate.channel_gate.logits.fill_(100.0)  # a gate that lets everything through
    torch.testing.assert_close(block(x), plain(x))


def test_resnet50_with_cbam_in_every_bottleneck():
    plain, gated = resnet50_gated(), resnet50_gated("cbam-spatial")
    widths = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    added = sum(p.numel() for p in gated.parameters()) - sum(p.numel() for p in plain.parameters())
    assert added == sum(cbam_parameters(c) for c in widths)
    assert sum(isinstance(m, CBAM) for m in gated.modules()) == 16
    assert gated(torch.randn(2, 3, 64, 64)).shape == (2, 10)


def test_mobilenet_v3_gates_sit_where_its_se_sat():
    from torchvision.ops.misc import SqueezeExcitation

    reference = mobilenet_v3_gated("torchvision")
    se_places = [(name, m.fc1.in_channels) for name, m in reference.named_modules()
                 if isinstance(m, SqueezeExcitation)]
    assert len(se_places) == 9
    for gate in (None, "cbam", "eca"):
        model = mobilenet_v3_gated(gate)
        modules = dict(model.named_modules())
        assert not any(isinstance(m, SqueezeExcitation) for m in model.modules())
        for name, channels in se_places:
            placed = modules[name]
            if gate is None:
                assert isinstance(placed, nn.Identity)
            else:
                assert isinstance(placed, type(GATES[gate](channels) if gate == "eca" else GATES[gate](channels, 16)))
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    # torchvision's SE squeezes to a quarter of the expanded channels, rounded to a multiple of 8
    assert all(m.fc1.out_channels % 8 == 0 for m in reference.modules() if isinstance(m, SqueezeExcitation))


def test_mobilenet_v2_blocks_and_their_identity_paths():
    blocks = v2_blocks()
    assert len(blocks) == 17
    assert sum(not b["identity"] for b in blocks) == 7
    assert all(b["identity"] == (b["stride"] == 1 and b["channels_in"] == b["channels_out"]) for b in blocks)
    model = mobilenet_v2_gated("cbam")
    assert sum(isinstance(m, ChannelGate) for m in model.modules()) == 17
    assert mobilenet_v2_gated("eca").eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("channels, official, timm, package", [
    (3, 0, 1, None), (16, 1, 1, 1), (24, 1, 2, 1), (32, 2, 2, 2), (40, 2, 3, 2), (1280, 80, 80, 80)])
def test_hidden_widths_by_rule(channels, official, timm, package):
    assert hidden_widths(channels) == dict(channels=channels, official=official, timm=timm, package=package)


def test_flops_count_convolutions_and_matmuls():
    layer = nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), nn.Flatten(), nn.Linear(4 * 8 * 8, 2, bias=False))
    # a 1x1 conv: 2 * 3 * 4 multiply-adds per position; the linear layer: 2 * 256 * 2
    assert flops_per_image(layer, 8) == 2 * 3 * 4 * 64 + 2 * 256 * 2


def test_step_seconds_and_costs_cover_every_model():
    models = {"a": nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(10))}
    models["a"](torch.randn(1, 3, 8, 8))  # materialise the lazy layer
    seconds = step_seconds(models, size=8, batch=4, rounds=2, steps=1)
    assert set(seconds) == {"a"} and seconds["a"] > 0
    # a model that declares six input channels is fed six, RGB first
    six = nn.Sequential(nn.Conv2d(6, 4, 3), nn.Flatten(), nn.LazyLinear(10))
    six(torch.randn(1, 6, 8, 8))
    six.input_channel = 6
    seen = []
    six.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[1]))
    assert set(step_seconds({"six": six, **models}, size=8, batch=4, rounds=1, steps=1)) == {"six", "a"}
    assert seen and set(seen) == {6}
    frame = gate_costs(mobilenet_v2_gated, ["eca"], size=32, batch=2, rounds=1, steps=1)
    assert list(frame.gate) == ["no gate", AGAIN, "eca"]
    assert frame["added parameters"].tolist()[:2] == [0, 0] and frame["added parameters"].iloc[2] > 0
    assert frame["FLOPs (%)"].iloc[1] == 0
