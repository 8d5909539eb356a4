"""Gates inserted into a trained network: each start does what its name says, and fine-tunes resume."""
import pytest
import torch

from cbam_helpers import MobileNet
from cbam_helpers.nn.attention import recorded_scores
from cbam_helpers.evidence.inserting import (OPEN_SCORE, STARTS, ResidualChannelGate,
                                    gated_blocks, with_gates)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    network = MobileNet("none")
    # batch norms with statistics of their own, as after training
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return network.eval()


def logits(network, x):
    with torch.no_grad():
        return network.eval()(x)


def block_scores(network, x):
    """Every block gate's scores on ``x``, concatenated."""
    found = []
    for block in gated_blocks(network):
        with recorded_scores(block.conv[-1]) as scores:
            logits(network, x)
        found.append(scores[0].flatten())
    return torch.cat(found)


X = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_every_start_keeps_the_trained_weights(trained):
    for start in STARTS:
        network = with_gates(trained, start)
        own = network.state_dict()
        for key, value in trained.state_dict().items():
            assert torch.equal(own[key], value), (start, key)


def test_the_identity_start_is_the_trained_network_and_no_gate_is_a_copy(trained):
    torch.testing.assert_close(logits(with_gates(trained, "identity"), X), logits(trained, X))
    torch.testing.assert_close(logits(with_gates(trained, "no gate"), X), logits(trained, X))
    assert all(isinstance(b.conv[-1], ResidualChannelGate) for b in gated_blocks(with_gates(trained, "identity")))


def test_the_open_start_scores_open_score_everywhere_and_fresh_near_a_half(trained):
    open_scores = block_scores(with_gates(trained, "open"), X)
    torch.testing.assert_close(open_scores, torch.full_like(open_scores, OPEN_SCORE))
    fresh = block_scores(with_gates(trained, "fresh"), X)
    assert 0.4 < fresh.mean() < 0.6 and fresh.std() > 0.005
    assert not torch.allclose(logits(with_gates(trained, "fresh"), X), logits(trained, X), atol=1e-2)


def test_the_seed_fixes_the_fresh_gates_and_leaves_the_global_generator_alone(trained):
    state = torch.random.get_rng_state()
    a, b = with_gates(trained, "fresh", seed=3), with_gates(trained, "fresh", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(logits(a, X), logits(b, X))
    assert not torch.allclose(logits(a, X), logits(with_gates(trained, "fresh", seed=4), X))


def test_bad_starts_and_gated_networks_are_refused(trained):
    with pytest.raises(ValueError, match="start must be one of"):
        with_gates(trained, "closed")
    with pytest.raises(ValueError, match="without any"):
        with_gates(MobileNet("last"), "fresh")


def test_a_fine_tune_writes_its_record_once_and_reads_it_after(trained, monkeypatch, tmp_path):
    from cbam_helpers.evidence import inserting
    from cbam_helpers.engine.data import CIFAR10
    from cbam_helpers.engine.profiles import Profile

    tiny = Profile("tiny", resolution=32, batch_size=16, lr=0.001, epochs=2,
                   train_images=32, test_images=16)
    images = torch.randint(0, 256, (48, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    data = CIFAR10(images[:32], torch.arange(32) % 10, images[32:],
                   torch.arange(16) % 10, source="synthetic")
    monkeypatch.setattr(inserting, "load_network", lambda *a, **k: trained)
    record = inserting.fine_tune("identity", 1, data, profile=tiny, results=tmp_path,
                                 device=torch.device("cpu"), progress=False)
    assert record["inserted_accuracy"] == record["trained_accuracy"]  # identity
    assert [e["epoch"] for e in record["history"]] == [1, 2]
    assert inserting.inserted_path("identity", 1, tmp_path).exists()
    assert not list(tmp_path.rglob("*.pt"))  # the checkpoint goes once the record is written
    monkeypatch.setattr(inserting, "fit", lambda *a, **k: pytest.fail("trained again"))
    assert inserting.fine_tune("identity", 1, data, profile=tiny, results=tmp_path) == record
