import math

import pytest
import torch

from cbam_helpers import CBAM, ChannelAttention, ChannelGate, SqueezeExcitation
from cbam_helpers.nn.attention import GATES, ChannelScale, MaxPoolAttention, PooledResidualMLP, recorded_scores
from cbam_helpers.nn.placements import build_gate


def two_call_scores(gate, x):
    """The reference form: the shared MLP called once per descriptor."""
    avg = gate.mlp(x.mean((2, 3)))
    mx = gate.mlp(x.amax((2, 3)))
    return torch.sigmoid(avg + mx)[..., None, None]


def test_scores_shape_and_range():
    torch.manual_seed(0)
    gate = ChannelAttention(8, reduction_ratio=2)
    scores = gate(torch.randn(4, 8, 5, 7))
    assert scores.shape == (4, 8, 1, 1)
    assert (scores > 0).all() and (scores < 1).all()


def test_formula_by_hand():
    """A 2-channel, 2x2 map with a 1-unit MLP whose weights are set by hand."""
    gate = ChannelAttention(2, reduction_ratio=2)
    with torch.no_grad():
        gate.mlp[0].weight.copy_(torch.tensor([[1.0, -1.0]]))
        gate.mlp[0].bias.fill_(0.5)
        gate.mlp[2].weight.copy_(torch.tensor([[2.0], [-1.0]]))
        gate.mlp[2].bias.copy_(torch.tensor([0.1, 0.2]))
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]], [[0.0, -2.0], [1.0, 1.0]]]])
    # avg = (3, 0), max = (6, 1)
    # hidden(avg) = relu(3 - 0 + 0.5) = 3.5 -> (7.1, -3.3)
    # hidden(max) = relu(6 - 1 + 0.5) = 5.5 -> (11.1, -5.3)
    expected = torch.tensor([1 / (1 + math.exp(-18.2)), 1 / (1 + math.exp(8.6))])
    torch.testing.assert_close(gate(x).flatten(), expected)


def test_stacked_mlp_equals_two_calls():
    torch.manual_seed(1)
    gate = ChannelAttention(32, reduction_ratio=4)
    x = torch.randn(3, 32, 9, 9)
    assert (gate(x) - two_call_scores(gate, x)).abs().max() < 1e-6


def test_channels_last_and_autocast():
    torch.manual_seed(2)
    gate = ChannelAttention(16, reduction_ratio=4)
    x = torch.randn(2, 16, 6, 6)
    reference = gate(x)
    torch.testing.assert_close(gate(x.to(memory_format=torch.channels_last)), reference)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = gate(x)
    assert scores.dtype == torch.float32
    assert (scores - reference).abs().max() < 0.02


def test_state_dict_keys_match_the_post():
    assert list(ChannelAttention(6, 1.0).state_dict()) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]


@pytest.mark.parametrize(
    "channels, ratio, hidden", [(6, 1.0, 6), (6, 0.5, 12), (64, 16, 4), (3, 3, 1), (10, 3, 3)]
)
def test_hidden_width(channels, ratio, hidden):
    assert ChannelAttention(channels, ratio).mlp[0].out_features == hidden


def test_parameter_count():
    # 6*6 + 6 + 6*6 + 6
    assert sum(p.numel() for p in ChannelAttention(6, 1.0).parameters()) == 84


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(3)
    block = CBAM(8, reduction_ratio=2)
    block(torch.randn(2, 8, 5, 5)).square().sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradcheck_float64():
    torch.manual_seed(4)
    gate = ChannelAttention(4, reduction_ratio=2).double()
    # distinct values: amax has a well-defined gradient only without ties
    x = torch.randperm(4 * 3 * 3, dtype=torch.float64).reshape(1, 4, 3, 3).div(10).requires_grad_()
    assert torch.autograd.gradcheck(gate, (x,))


def test_cbam_gates_features():
    torch.manual_seed(5)
    block = ChannelGate(6, reduction_ratio=2)
    x = torch.randn(2, 6, 4, 4)
    with recorded_scores(block) as scores:
        out = block(x)
    assert len(scores) == 1
    torch.testing.assert_close(out, x * scores[0])
    torch.testing.assert_close(scores[0], block.channel_gate(x))


def test_cbam_spatial_follows_channel():
    torch.manual_seed(6)
    block = CBAM(6, reduction_ratio=2, spatial_kernel=3)
    x = torch.randn(2, 6, 5, 5)
    channel_gated = x * block.channel_gate(x)
    spatial = block.spatial_gate(channel_gated)
    assert spatial.shape == (2, 1, 5, 5)
    torch.testing.assert_close(block(x), channel_gated * spatial)


@pytest.mark.parametrize("gate_class, pool", [(SqueezeExcitation, lambda x: x.mean((2, 3))),
                                              (MaxPoolAttention, lambda x: x.amax((2, 3)))])
def test_single_descriptor_gates(gate_class, pool):
    """SE feeds the MLP the average alone, MaxPoolAttention the maximum alone, with CBAM's weights."""
    torch.manual_seed(7)
    cbam_gate = ChannelAttention(8, 2)
    gate = gate_class(8, 2)
    gate.load_state_dict(cbam_gate.state_dict())
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(gate(x), torch.sigmoid(cbam_gate.mlp(pool(x)))[..., None, None])
    assert not torch.allclose(gate(x), cbam_gate(x))


@pytest.mark.parametrize(
    "x, error, words",
    [
        (torch.randn(2, 6), ValueError, "4-D"),
        (torch.randn(2, 5, 4, 4), ValueError, "expected 6 channels"),
        ([[1.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input(x, error, words):
    with pytest.raises(error, match=words):
        ChannelAttention(6, 1.0)(x)


def test_zero_hidden_units_refused():
    with pytest.raises(ValueError, match=r"0 hidden units.*reduction_ratio <= 3"):
        ChannelAttention(3, 16)


@pytest.mark.parametrize("ratio", [0, -1.0])
def test_non_positive_ratio_refused(ratio):
    with pytest.raises(ValueError, match="must be > 0"):
        ChannelAttention(8, ratio)


def test_non_integer_channels_refused():
    with pytest.raises(TypeError, match="input_channels must be an int"):
        ChannelAttention(8.0)


def test_cbam_pooling_picks_the_gate():
    assert type(ChannelGate(8, 2, pooling="avg").channel_gate) is SqueezeExcitation
    assert type(ChannelGate(8, 2, pooling="max").channel_gate) is MaxPoolAttention
    assert type(ChannelGate(8, 2).channel_gate) is ChannelAttention
    with pytest.raises(ValueError, match="pooling must be one of"):
        ChannelGate(8, 2, pooling="median")


def test_channel_scale_ignores_its_input():
    scale = ChannelScale(4)
    with torch.no_grad():
        scale.channel_gate.logits.copy_(torch.tensor([0.0, 2.0, -2.0, 0.5]))
    x = torch.randn(3, 4, 5, 5)
    out, scores = scale(x), scale.channel_gate(x)
    expected = torch.sigmoid(torch.tensor([0.0, 2.0, -2.0, 0.5]))
    assert scores.shape == (3, 4, 1, 1) and torch.equal(scores[0].flatten(), scores[2].flatten())
    torch.testing.assert_close(scores[1].flatten(), expected)
    torch.testing.assert_close(out, x * expected[None, :, None, None])
    assert torch.equal(ChannelScale(4).channel_gate(x), torch.full((3, 4, 1, 1), 0.5))


def test_pooled_residual_mlp_adds_to_the_pooled_vector():
    torch.manual_seed(9)
    control = PooledResidualMLP(6, 1.0)
    x = torch.randn(2, 6, 3, 3)
    pooled = x.mean((2, 3))
    torch.testing.assert_close(control(x).mean((2, 3)), pooled + control.mlp(pooled))
    assert control.channel_gate is None
    with recorded_scores(control) as scores:
        control(x)
    assert scores == []
    # the same parameters as CBAM's channel gate at the same ratio
    assert sum(p.numel() for p in control.parameters()) == sum(p.numel() for p in ChannelAttention(6, 1.0).parameters())


@pytest.mark.parametrize("name", list(GATES))
def test_every_gate_keeps_the_contract(name):
    """Features in, features of the same shape and dtype out; scores only through ``channel_gate``."""
    x = torch.randn(2, 16, 4, 4)
    gate = build_gate(name, 16, 4)
    with recorded_scores(gate) as scores:
        out = gate(x)
    assert isinstance(out, torch.Tensor) and out.shape == x.shape and out.dtype == x.dtype
    if gate.channel_gate is None:
        assert scores == [] and name == "residual-mlp"
    else:
        assert len(scores) == 1 and scores[0].shape == (2, 16, 1, 1)
        assert ((scores[0] > 0) & (scores[0] < 1)).all()


def test_a_gate_without_an_mlp_refuses_a_reduction_ratio():
    with pytest.raises(ValueError, match="no reduction ratio"):
        GATES["scale"](16, 4)
    assert GATES["scale"](16, 1.0)(torch.ones(1, 16, 2, 2)).shape == (1, 16, 2, 2)


def test_recorded_scores_leaves_no_hook_behind():
    block = ChannelGate(6, reduction_ratio=2)
    with recorded_scores(block) as scores:
        block(torch.randn(1, 6, 3, 3))
    block(torch.randn(1, 6, 3, 3))
    assert len(scores) == 1 and not block.channel_gate._forward_hooks


def test_constant_gate_starts_where_cbam_starts_and_ignores_its_input():
    from cbam_helpers.nn.attention import ConstantChannelAttention

    torch.manual_seed(0)
    cbam = ChannelAttention(6, 1.0)
    torch.manual_seed(0)
    constant = ConstantChannelAttention(6, 1.0)
    assert torch.equal(cbam.mlp[0].weight, constant.mlp[0].weight)  # the same random numbers build the same MLP
    x = torch.randn(16, 6, 8, 8)
    first = constant(x)
    # at the first training forward the learned descriptors are the batch's mean descriptors
    mean_descriptors = torch.stack((x.mean((2, 3)), x.amax((2, 3)))).mean(1)
    by_hand = torch.sigmoid(cbam.mlp(mean_descriptors).sum(0))
    assert torch.allclose(first[0, :, 0, 0], by_hand, atol=1e-6)
    # every input gets the same scores, now and after the first batch
    assert torch.allclose(first, first[:1].expand_as(first))
    other = constant(torch.randn(4, 6, 8, 8) * 10)
    assert torch.allclose(other, first[:4])
    assert set(dict(constant.named_parameters())) == {"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
                                                       "context"}
    constant.context.sum().backward()  # learnable
    assert constant.context.grad is not None


@pytest.mark.parametrize("channels, kernel", [(16, 3), (24, 3), (32, 3), (64, 3), (96, 3), (160, 5), (320, 5),
                                              (1280, 5), (512, 5), (2048, 7)])
def test_eca_kernel_size_follows_the_paper(channels, kernel):
    """ECA-Net's rule, |log2(C) / 2 + 1 / 2| made odd, at MobileNetV2's block widths and ResNet's 512 and 2048."""
    from cbam_helpers.nn.attention import eca_kernel_size

    assert eca_kernel_size(channels) == kernel
    assert GATES["eca"](channels).channel_gate.conv.kernel_size == (kernel,)


def test_eca_scores_by_hand():
    """Eight channels, k = 3 ((log2 8 + 1) / 2 = 2, made odd): each logit weighs a channel and its 2 neighbours."""
    gate = GATES["eca"](8)
    assert gate.channel_gate.kernel_size == 3
    with torch.no_grad():
        gate.channel_gate.conv.weight.copy_(torch.tensor([[[1.0, 2.0, -1.0]]]))
    x = torch.arange(8.0).repeat_interleave(4).reshape(1, 8, 2, 2)  # channel c is constant c
    # zero padding at both ends: logit_c = 1 * a_(c-1) + 2 * a_c - 1 * a_(c+1)
    padded = [0.0, *range(8), 0.0]
    logits = [padded[c] + 2 * padded[c + 1] - padded[c + 2] for c in range(8)]
    expected = torch.sigmoid(torch.tensor(logits))
    torch.testing.assert_close(gate.channel_gate(x).flatten(), expected)
    torch.testing.assert_close(gate(x), x * expected[None, :, None, None])
    assert sum(p.numel() for p in gate.parameters()) == 3


def test_eca_refuses_a_reduction_ratio():
    with pytest.raises(ValueError, match="no reduction ratio"):
        GATES["eca"](64, 16)
