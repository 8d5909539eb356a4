"""CBAM's spatial gate by hand, its arrangements with the channel gate, and the spatial task's generator."""
import pytest
import torch

from cbam_helpers import SpatialAttention
from cbam_helpers.synthetic.channel_tasks import DEFAULT, QUICK, Setting, fit
from cbam_helpers.synthetic.spatial_tasks import (ARRANGEMENTS, GatePair, SpatialNet, SpatialTask, generate,
                                            mean_inside_and_outside, patch_masks)

F = torch.tensor([[[[1.0, 0.0, 2.0], [3.0, 1.0, 0.0], [0.0, 2.0, 1.0]],
                   [[-1.0, 2.0, 0.0], [1.0, 3.0, -2.0], [4.0, 0.0, 1.0]]]])


def hand_set_gate():
    """A 3x3 kernel that reads the channel mean at the position and half the channel max one to the right."""
    gate = SpatialAttention(3)
    with torch.no_grad():
        gate.conv.weight.zero_()
        gate.conv.weight[0, 0, 1, 1] = 1.0  # input channel 0: the mean over channels
        gate.conv.weight[0, 1, 1, 2] = 0.5  # input channel 1: the max over channels, right neighbour
    return gate


def test_spatial_gate_by_hand():
    # mean over C: [[0, 1, 1], [2, 2, -1], [2, 1, 1]]; max over C: [[1, 2, 2], [3, 3, 0], [4, 2, 1]]
    # logit(i, j) = mean(i, j) + 0.5 * max(i, j + 1), zero padding beyond the right edge
    logits = torch.tensor([[1.0, 2.0, 1.0], [3.5, 2.0, -1.0], [3.0, 1.5, 1.0]])
    torch.testing.assert_close(hand_set_gate()(F)[0, 0], torch.sigmoid(logits))


def test_spatial_gate_shapes_and_kernel():
    gate = SpatialAttention()
    assert gate.conv.weight.shape == (1, 2, 7, 7) and gate.conv.bias is None
    assert gate(torch.randn(3, 16, 9, 5)).shape == (3, 1, 9, 5)
    with pytest.raises(ValueError, match="odd"):
        SpatialAttention(4)


@pytest.mark.parametrize("order", ARRANGEMENTS[1:])
def test_each_arrangement_is_its_formula(order):
    torch.manual_seed(0)
    pair = GatePair(6, order)
    x = torch.randn(2, 6, 8, 8)
    mc, ms = pair.channel_gate, pair.spatial_gate
    expected = {"channel": lambda: x * mc(x), "spatial": lambda: x * ms(x),
                "parallel": lambda: x * mc(x) * ms(x),
                "channel-spatial": lambda: (x * mc(x)) * ms(x * mc(x)),
                "spatial-channel": lambda: (x * ms(x)) * mc(x * ms(x))}[order]()
    torch.testing.assert_close(pair(x), expected)
    assert (mc is None) == (order == "spatial") and (ms is None) == (order == "channel")


def test_the_patch_is_where_the_generator_says():
    task = SpatialTask(grating=0.0)
    bright, _, corners = generate(task.but(cue_strength=5.0), 64, seed=3)
    plain, labels, same_corners = generate(task.but(cue_strength=0.0), 64, seed=3)
    assert torch.equal(corners, same_corners)
    inside = patch_masks(task, corners)
    assert (inside.sum((1, 2)) == task.patch ** 2).all()
    difference = bright - plain  # exactly the cue, in every channel, inside the patch alone
    torch.testing.assert_close(difference, 5.0 * inside[:, None].float().expand_as(difference))
    assert ((corners >= 0) & (corners <= task.size - task.patch)).all()


def test_the_grating_carries_the_label():
    """Inside the patch every channel holds noise plus the label's grating; the orientation decides the class."""
    task = SpatialTask(grating=50.0, cue_strength=0.0)  # a grating far above the noise
    x, labels, corners = generate(task, 200, seed=1)
    inside = patch_masks(task, corners)
    patch_energy = (x.mean(1) ** 2 * inside).sum((1, 2)) / inside.sum((1, 2))
    assert patch_energy.min() > 100  # the grating is there, not elsewhere
    assert set(labels.tolist()) == set(range(task.classes))


def test_spatial_net_and_its_maps():
    task = SpatialTask()
    x, _, _ = generate(task, 5, seed=0)
    for gate in ARRANGEMENTS:
        net = SpatialNet(task, gate)
        assert net(x).shape == (5, task.classes)
        if gate in ("none", "channel"):
            with pytest.raises(ValueError, match="no spatial gate"):
                net.spatial_map(x)
        else:
            assert net.spatial_map(x).shape == (5, task.size, task.size)
    with pytest.raises(ValueError, match="gate must be one of"):
        SpatialNet(task, "cbam")
    on_input = SpatialNet(task, "spatial", place="input")
    assert on_input(x).shape == (5, task.classes) and on_input.spatial_map(x).shape == (5, 16, 16)
    assert on_input.gate.channel_gate is None  # a spatial gate alone has no channel gate
    scaled = SpatialNet(task, "scale")
    assert scaled(x).shape == (5, task.classes)
    with pytest.raises(ValueError, match="no spatial gate"):
        scaled.spatial_map(x)
    with pytest.raises(ValueError, match="place"):
        SpatialNet(task, place="head")


def test_training_is_seeded_and_maps_can_be_read():
    setting = Setting(train=128, test=64, epochs=1)
    first = fit(SpatialTask(), "spatial", seed=4, setting=setting)
    again = fit(SpatialTask(), "spatial", seed=4, setting=setting)
    assert first["accuracy"] == again["accuracy"]
    inside, outside = mean_inside_and_outside(first["model"], SpatialTask(), n=16)
    assert inside.shape == outside.shape == (16,)
    assert QUICK.train < DEFAULT.train


def test_bad_tasks_are_refused():
    with pytest.raises(ValueError, match="patch"):
        SpatialTask(patch=20)
    with pytest.raises(ValueError, match="order must be one of"):
        GatePair(4, "none")


def test_distractors_are_uncued_gratings_that_leave_the_rest_alone():
    task = SpatialTask(distractors=2)
    x, labels, corners = generate(task, 32, seed=5)
    x0, labels0, corners0 = generate(task.but(distractors=0), 32, seed=5)
    assert torch.equal(labels, labels0) and torch.equal(corners, corners0)
    assert not torch.equal(x, x0)
    # with no grating a distractor adds exactly nothing: it carries no cue
    flat, _, _ = generate(task.but(grating=0.0), 32, seed=5)
    flat0, _, _ = generate(task.but(grating=0.0, distractors=0), 32, seed=5)
    assert torch.equal(flat, flat0)
