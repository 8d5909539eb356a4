"""Final weights as fp16 safetensors: saved by a run that keeps them, loaded by named configuration."""
import os
from pathlib import Path

import pytest
import torch

from cbam_helpers import MobileNet
from cbam_helpers.engine.configs import BASELINE, BLOCKS_CBAM, FIRST_ON_NOISE, LAST
from cbam_helpers.engine.data import CIFAR10
from cbam_helpers.engine.profiles import ANNEALED, Profile
from cbam_helpers.engine.records import load_network, read_record, record_path, run, weights_path
from cbam_helpers.engine.weights import load_weights, save_weights

ROOT = Path(__file__).resolve().parents[1]
TINY = Profile("tiny", resolution=32, batch_size=16, lr=0.01, epochs=1, train_images=32, test_images=16)


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 3, 32, 32), dtype=torch.uint8, generator=generator)
    return CIFAR10(images[:32], torch.arange(32) % 10, images[32:], torch.arange(16) % 10, source="synthetic")


def test_weights_round_trip_in_fp16_and_keep_integer_buffers(tmp_path):
    torch.manual_seed(0)
    model = MobileNet("blocks", reduction_ratio=16).eval()
    path = save_weights(model, tmp_path / "w.safetensors", "some-run")
    loaded = load_weights(MobileNet("blocks", reduction_ratio=16).eval(), path)
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert a.dtype == b.dtype, name
        expected = a.half().to(a.dtype) if a.is_floating_point() else a
        assert torch.equal(b, expected), name
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0.05, atol=0.05)
    # a pickle-free file of the right size: about two bytes per parameter
    parameters = sum(p.numel() for p in model.parameters())
    assert 2 * parameters < path.stat().st_size < 2.2 * parameters + 200_000
    with pytest.raises(ValueError, match="does not fit"):
        load_weights(MobileNet("none"), path)


def test_a_run_keeps_its_weights_and_the_network_loads_by_configuration(data, tmp_path):
    config = LAST.at(0, TINY)
    record = run(config, data, results=tmp_path, device=torch.device("cpu"), progress=False, keep_weights=True)
    assert weights_path(config, tmp_path).exists()
    network = load_network(LAST, seed=0, profile=TINY, results=tmp_path)
    assert not network.training and isinstance(network, MobileNet)
    # the same numbers as the run's final model, within fp16
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert network(images).shape == (4, 10)
    assert read_record(record_path(config, tmp_path)) == record
    with pytest.raises(FileNotFoundError, match="no weights for"):
        load_network(BASELINE, seed=0, profile=TINY, results=tmp_path)


def test_keeping_weights_of_a_run_recorded_without_them_is_refused(data, tmp_path):
    config = BASELINE.at(1, TINY)
    run(config, data, results=tmp_path, device=torch.device("cpu"), progress=False)
    with pytest.raises(FileExistsError, match="scratch results folder"):
        run(config, data, results=tmp_path, device=torch.device("cpu"), progress=False, keep_weights=True)


def test_the_cli_passes_keep_weights_through(monkeypatch):
    from cbam_helpers import cli

    seen = {}
    monkeypatch.setattr("cbam_helpers.evidence.experiments.reproduce", lambda *a, **k: seen.update(k) or {})
    cli.main(["reproduce", "--profile", "smoke", "--keep-weights", "--no-progress"])
    assert seen["keep_weights"] is True


SHIPPED = ROOT / "results" / "annealed" / "weights"
DATA = os.environ.get("CBAM_DATA")
NETWORKS = {"BASELINE": BASELINE, "LAST": LAST, "FIRST_ON_NOISE": FIRST_ON_NOISE, "BLOCKS_CBAM": BLOCKS_CBAM}
"""The networks the package ships (annealed, seed 0), by configuration name."""


def test_the_shipped_weights_are_the_four_networks_and_fit_the_budget():
    shipped = sorted(SHIPPED.glob("*.safetensors"))
    assert [p.name for p in shipped] == sorted(f"{c.at(0, ANNEALED).run_id}.safetensors" for c in NETWORKS.values())
    # the budget the book set itself, and what a PyPI-sized wheel carries without complaint
    assert sum(p.stat().st_size for p in shipped) < 26e6


@pytest.mark.skipif(not DATA, reason="needs CBAM_DATA (the CIFAR-10 copy)")
@pytest.mark.parametrize("name", NETWORKS)
def test_each_shipped_network_reproduces_its_records_accuracy_on_its_curve_subset(name):
    from cbam_helpers.engine.data import load_cifar10
    from cbam_helpers.engine.train import evaluate, to_device

    configuration = NETWORKS[name]
    record = read_record(record_path(configuration.at(0, ANNEALED), ROOT / "results"))
    network = load_network(configuration, seed=0, profile=ANNEALED, results=ROOT / "results")
    cpu = torch.device("cpu")
    tensors = to_device(load_cifar10(), ANNEALED, cpu)  # the run's own curve subset, by the same generator
    assert len(tensors["curve_labels"]) == record.last_epoch.test_images
    _, accuracy = evaluate(network, tensors["curve_images"], tensors["curve_labels"], profile=ANNEALED,
                           inputs=configuration.inputs, device=cpu)
    # fp16 weights move a few borderline images: within 0.5 points of the fp32 run's own number
    assert abs(accuracy - record.last_epoch.test_accuracy) < 0.005, (accuracy, record.last_epoch.test_accuracy)
