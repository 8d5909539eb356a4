import math

import pytest
import torch
import torchvision

from cbam_helpers import ChannelGate, MobileNet, count_parameters


@pytest.fixture(scope="module")
def baseline_parameters():
    return count_parameters(MobileNet("none"))


@pytest.mark.parametrize(
    "loc, channels", [("none", 3), ("first", 3), ("last", 3), ("blocks", 3), ("expansion", 3), ("none", 6), ("first", 6)]
)
def test_forward_shape(loc, channels):
    torch.manual_seed(0)
    model = MobileNet(loc, input_channel=channels).eval()
    assert model(torch.randn(2, channels, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("loc, channels", [("first", 6), ("last", 1280)])
def test_return_score(loc, channels):
    model = MobileNet(loc, input_channel=6).eval()
    logits, scores = model(torch.randn(2, 6, 64, 64), return_score=True)
    assert logits.shape == (2, 10)
    assert scores.shape == (2, channels)
    assert ((scores > 0) & (scores < 1)).all()


def test_return_score_without_gate_is_refused():
    with pytest.raises(ValueError, match="'first' or 'last'"):
        MobileNet("none")(torch.randn(1, 3, 32, 32), return_score=True)


def test_last_adds_the_expected_parameters(baseline_parameters):
    assert count_parameters(MobileNet("last")) - baseline_parameters == 2 * (1280 * 1280 + 1280) == 3_279_360


def test_first_on_six_channels_parameters():
    # the 6-channel stem replaces 32*3*3*3 weights with 32*6*3*3; the gate adds 84
    base = count_parameters(MobileNet("none"))
    assert count_parameters(MobileNet("first", input_channel=6)) - base == 32 * 3 * 3 * 3 + 84


def test_blocks_put_a_gate_before_the_residual_add():
    model = MobileNet("blocks", reduction_ratio=4)
    gates = [m for m in model.modules() if isinstance(m, ChannelGate)]
    assert len(gates) == 17
    block = model.features[2]
    assert isinstance(block.conv[-1], ChannelGate) and isinstance(block.conv[-2], torch.nn.BatchNorm2d)


def test_torchvision_weights_load_strictly():
    reference = torchvision.models.MobileNetV2(num_classes=10)
    model = MobileNet("none")
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model.eval()(x), reference.eval()(x))


def test_stem_initialisation_for_six_channels():
    torch.manual_seed(0)
    stem = MobileNet("none", input_channel=6).features[0][0]
    assert stem.in_channels == 6 and stem.out_channels == 32
    # kaiming normal, fan_out = 32 * 3 * 3
    assert abs(stem.weight.std().item() - (2 / (32 * 9)) ** 0.5) < 0.01


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(1)
    model = MobileNet("last", input_channel=6)
    model(torch.randn(2, 6, 64, 64)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"attention_loc": "middle"}, "one of"),
        ({"input_channel": 0}, "input_channel must be"),
        ({"attention_loc": "first", "reduction_ratio": 16}, "hidden units"),
    ],
)
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        MobileNet(**kwargs)


def test_wrong_input_channels_is_readable():
    with pytest.raises(ValueError, match="expected 6 channels"):
        MobileNet("first", input_channel=6)(torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize("gate", ["cbam-avg", "cbam-max", "cbam-spatial", "scale", "residual-mlp"])
def test_every_gate_builds_at_every_place(gate):
    torch.manual_seed(0)
    for loc in ("first", "last", "blocks", "expansion"):
        ratio = 1.0 if gate == "scale" else 2  # a gate with no MLP refuses a reduction ratio
        assert MobileNet(loc, input_channel=6, reduction_ratio=ratio, gate=gate).eval()(torch.randn(1, 6, 64, 64)).shape == (1, 10)


def test_last_gate_is_a_gated_head():
    """A gate before global average pooling equals the same per-channel scores applied to the pooled vector."""
    torch.manual_seed(1)
    model = MobileNet("last").eval()
    x = torch.randn(2, 3, 64, 64)
    features = model.features(x)
    scores = model.attention.channel_gate(features).flatten(1)
    torch.testing.assert_close(model(x), model.classifier(features.mean((2, 3)) * scores))


def test_residual_mlp_control_has_the_parameters_of_last_and_no_scores():
    assert count_parameters(MobileNet("last", gate="residual-mlp")) == count_parameters(MobileNet("last"))
    logits, scores = MobileNet("last", gate="residual-mlp").eval()(torch.randn(1, 3, 64, 64), return_score=True)
    assert logits.shape == (1, 10) and scores is None


def test_unknown_gate_is_refused():
    with pytest.raises(ValueError, match="gate must be one of"):
        MobileNet("last", gate="transformer")


@pytest.mark.parametrize("size, side", [(32, 1), (33, 2), (64, 2), (65, 3), (112, 4)])
def test_last_feature_map_size(size, side):
    with torch.no_grad():
        assert MobileNet("none").eval().features(torch.randn(1, 3, size, size)).shape[-2:] == (side, side)


@pytest.mark.parametrize("attention_loc, channels", [("last", 3), ("first", 6), ("none", 6), ("last", 6)])
def test_a_checkpoint_of_the_posts_model_loads_and_gives_its_logits(attention_loc, channels):
    from post_model import PostMobileNet

    torch.manual_seed(3)
    post = PostMobileNet(attention_loc, input_channel=channels).eval()
    state = post.state_dict()
    if attention_loc != "none":  # the keys differ: a strict plain load refuses them
        assert "channel_atten.channel_attention.mlp.0.weight" in state
        with pytest.raises(RuntimeError, match="attention.channel_gate.mlp"):
            MobileNet(attention_loc, input_channel=channels).load_state_dict(state, strict=True)
    ours = MobileNet(attention_loc, input_channel=channels).eval()
    ours.load_post_state_dict(state)
    x = torch.randn(2, channels, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), post(x))


def test_block_scores_read_every_block_gate_in_one_pass():
    from cbam_helpers.nn.mobilenet import block_scores, gated_blocks

    torch.manual_seed(0)
    network = MobileNet("blocks", reduction_ratio=16).eval()
    first = gated_blocks(network)[0].conv[-1].channel_gate.mlp[-1]
    with torch.no_grad():  # the MLP's output is then its bias, for both descriptors: sigmoid(2 * 0.25)
        first.weight.zero_()
        first.bias.fill_(0.25)
    images = torch.randn(2, 3, 32, 32)
    scores = block_scores(network, images)
    widths = [block.out_channels for block in gated_blocks(network)]
    assert [tuple(s.shape) for s in scores] == [(2, w) for w in widths] and len(scores) == 17
    assert torch.allclose(scores[0], torch.full_like(scores[0], 1 / (1 + math.exp(-0.5))))
    assert all(((s > 0) & (s < 1)).all() for s in scores)
    assert torch.equal(network(images), network(images))  # reading left no hook behind


def test_block_scores_refuse_networks_without_block_gates():
    from cbam_helpers.nn.mobilenet import block_scores

    with pytest.raises(ValueError, match="attention_loc in \\('blocks', 'expansion'\\)"):
        block_scores(MobileNet("last"), torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="scores no channels"):
        block_scores(MobileNet("blocks", gate="residual-mlp"), torch.randn(1, 3, 32, 32))


# MobileNetV2's inverted-residual blocks: input channels and expansion factor t (torchvision's table)
V2_INPUTS = [32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160]
V2_EXPANDED = [c * (1 if i == 0 else 6) for i, c in enumerate(V2_INPUTS)]


def test_expansion_gates_the_expanded_channels_between_depthwise_and_projection():
    from cbam_helpers.nn.mobilenet import block_gates, gated_blocks

    model = MobileNet("expansion", reduction_ratio=16)
    gates = block_gates(model)
    assert [g.channel_gate.mlp[0].in_features for g in gates] == V2_EXPANDED
    for block, gate in zip(gated_blocks(model), gates):
        depthwise, projection = block.conv[-4], block.conv[-2]
        assert depthwise[0].groups == depthwise[0].out_channels  # the depthwise conv comes just before
        assert projection.kernel_size == (1, 1) and projection.in_channels == gate.channel_gate.mlp[0].in_features


def test_expansion_adds_the_mlp_parameters_of_the_expanded_widths(baseline_parameters):
    # per block: Linear(C, C // 16) and Linear(C // 16, C), with biases
    expected = sum(c * (c // 16) + c // 16 + (c // 16) * c + c for c in V2_EXPANDED)
    assert count_parameters(MobileNet("expansion", reduction_ratio=16)) - baseline_parameters == expected


def test_a_shut_expansion_gate_leaves_only_the_projections_batch_norm():
    """Scores of 0 zero the projection's input: a block's branch is then its BN's shift alone,
    added to the identity where the block has one."""
    from cbam_helpers.nn.mobilenet import block_gates, gated_blocks

    torch.manual_seed(0)
    model = MobileNet("expansion", reduction_ratio=16).eval()
    for gate in block_gates(model):
        with torch.no_grad():
            gate.channel_gate.mlp[-1].weight.zero_()
            gate.channel_gate.mlp[-1].bias.fill_(-60.0)  # sigmoid(-120) == 0 in fp32
    block = gated_blocks(model)[2]  # stride 1, 24 -> 24: has an identity path
    assert block.use_res_connect
    bn = block.conv[-1]
    with torch.no_grad():  # a BN whose shift is not zero, as after training
        bn.running_mean.uniform_(-1, 1)
        bn.bias.uniform_(-1, 1)
    x = torch.randn(2, 24, 8, 8)
    shift = bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x + shift.view(1, -1, 1, 1).expand_as(x))


V2_OUTPUTS = [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]


def test_an_identity_start_network_is_the_plain_network_of_its_seed():
    """``cbam-identity`` (``2 Mc(F) F``, output layer zeroed) scores 0.5 everywhere at the start, so the
    untrained network gives the plain network's logits; the rest of its weights are ``blocks``' own."""
    from cbam_helpers.engine.configs import BASELINE, BLOCKS_CBAM, BLOCKS_IDENTITY
    from cbam_helpers.nn.mobilenet import block_scores

    identity = BLOCKS_IDENTITY.at(3, "smoke").build_model().eval()
    plain = BASELINE.at(3, "smoke").build_model().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(identity(x), plain(x), rtol=0, atol=0)
    assert all(torch.equal(s, torch.full_like(s, 0.5)) for s in block_scores(identity, x))
    gated = BLOCKS_CBAM.at(3, "smoke").build_model().state_dict()
    changed = [k for k, v in identity.state_dict().items() if not torch.equal(v, gated[k])]
    assert changed and all(".mlp.2." in k for k in changed)  # only the zeroed output layers differ


def test_an_identity_start_gate_learns_away_from_the_identity():
    from cbam_helpers.nn.attention import GATES

    torch.manual_seed(0)
    gate = GATES["cbam-identity"](32, 16)
    gate(torch.randn(4, 32, 5, 5)).square().mean().backward()
    assert gate.channel_gate.mlp[-1].weight.grad.abs().sum() > 0


def test_an_identity_start_adds_the_parameters_of_the_cbam_blocks(baseline_parameters):
    # per block: Linear(C, C // 16) and back, with biases (16 and 24 channels get one hidden unit)
    hidden = [c // 16 for c in V2_OUTPUTS]
    expected = sum(2 * c * h + h + c for c, h in zip(V2_OUTPUTS, hidden))
    identity = MobileNet("blocks", reduction_ratio=16, gate="cbam-identity")
    assert count_parameters(identity) - baseline_parameters == expected
    assert count_parameters(MobileNet("blocks", reduction_ratio=16)) == count_parameters(identity)


def test_the_practice_gate_starts_as_the_identity_with_at_least_eight_hidden_units(baseline_parameters):
    """``cbam-identity-h8-nodecay``: the identity start, ``max(8, C // 16)`` hidden units per gate."""
    from cbam_helpers.engine.configs import BASELINE, BLOCKS_PRACTICE
    from cbam_helpers.nn.mobilenet import block_scores

    practice = BLOCKS_PRACTICE.at(3, "smoke").build_model().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(practice(x), BASELINE.at(3, "smoke").build_model().eval()(x), rtol=0, atol=0)
    assert all(torch.equal(s, torch.full_like(s, 0.5)) for s in block_scores(practice, x))
    hidden = [max(8, c // 16) for c in V2_OUTPUTS]
    expected = sum(2 * c * h + h + c for c, h in zip(V2_OUTPUTS, hidden))
    assert count_parameters(practice) - baseline_parameters == expected


def test_only_the_practice_gates_parameters_go_undecayed():
    from cbam_helpers.engine.train import parameter_groups

    def undecayed_matrices(gate):
        model = MobileNet("blocks", reduction_ratio=16, gate=gate)
        decayed, plain = parameter_groups(model, 5e-4)
        assert decayed["weight_decay"] == 5e-4 and plain["weight_decay"] == 0.0
        assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
        return sum(p.numel() for p in plain["params"] if p.ndim > 1)

    assert undecayed_matrices("cbam-identity") == 0
    practice = MobileNet("blocks", reduction_ratio=16, gate="cbam-identity-h8-nodecay")
    gate_matrices = sum(p.numel() for n, p in practice.named_parameters() if ".mlp." in n and p.ndim > 1)
    assert gate_matrices > 0 and undecayed_matrices("cbam-identity-h8-nodecay") == gate_matrices
