"""Records made by hand, for tests of the tables, sentences and analyses built from records."""
from cbam_helpers.engine.configs import BASELINE, BLOCKS_CBAM, FIRST_ON_NOISE, LAST, NOISY_BASELINE
from cbam_helpers.engine.profiles import CPU
from cbam_helpers.engine.records import Epoch, Record

# stand-ins for "configuration a, b, c" in tests where only their identity matters
A, B, C = BASELINE, LAST, BLOCKS_CBAM
CLEAN, NOISY, GATED = BASELINE, NOISY_BASELINE, FIRST_ON_NOISE


def fake_record(configuration=BASELINE, seed=0, accuracy=60.0, profile=CPU, curve=None, **fields):
    """A finished run of ``configuration`` at ``seed`` that scored ``accuracy`` (%); ``curve``: test accuracy per epoch (%)."""
    curve = curve or [accuracy]
    history = tuple(Epoch(epoch=i + 1, train_loss=1.0, train_accuracy=a / 100, test_loss=1.0, test_accuracy=a / 100,
                          seconds=1.0) for i, a in enumerate(curve))
    values = dict(attention=None, wall_seconds=600.0, parameters=1, device="cpu (2 threads)", torch="2.x",
                  torchvision="0.x", python="3.11", data="CIFAR-10 archive cifar10-jpeg.tar.gz",
                  finished="2026-11-24T20:00:00+0000")
    values.update(fields)
    return Record(config=configuration.at(seed, profile), history=history, test_accuracy=accuracy / 100, **values)


def runs(configuration, accuracies, **fields):
    """One record per seed 0, 1, ... with these accuracies (%)."""
    return [fake_record(configuration, seed, a, **fields) for seed, a in enumerate(accuracies)]
