"""One JSON record per finished run under ``results/<profile>/``, read back as a typed :class:`Record`.

A record is looked up by its configuration: asking for a run that exists returns its record without
training. Records are written atomically, so an interrupted run never leaves half a record.
"""
import json
import math
import os
import platform
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torchvision

from cbam_helpers.engine.atomic import write_json
from cbam_helpers.engine.configs import Configuration, RunConfig
from cbam_helpers.engine.data import load_cifar10
from cbam_helpers.nn.mobilenet import count_parameters
from cbam_helpers.engine.probes import book_probes
from cbam_helpers.engine.profiles import get_profile
from cbam_helpers.engine.train import choose_device, device_name, fit, precision_name
from cbam_helpers.engine.weights import load_weights, save_weights, weights_name

PACKAGE = Path(__file__).resolve().parent.parent
CHECKOUT = PACKAGE.parent
SHIPPED = PACKAGE / "results"
"""Where an installed wheel carries the book's committed records (the checkout's ``results/``, packed at build)."""


@dataclass(frozen=True)
class Epoch:
    """One epoch of a run's history. Fields after ``seconds`` were added over time: older records lack them.

    ``test_accuracy`` is on the profile's curve subset of the test set (``test_images`` says how many when
    it is a subset); the last epoch of such a profile carries ``final_test_accuracy`` on the whole test set.
    ``attention`` / ``attention_std``: the first or last gate's mean score per channel over the 64 probe
    images, and its standard deviation over them; ``stem_norm``: the stem's weight norm per input channel.
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float
    attention: list = None
    attention_std: list = None
    stem_norm: list = None
    lr: float = None
    test_images: int = None
    final_test_loss: float = None
    final_test_accuracy: float = None
    spatial_maps: dict = None


@dataclass(frozen=True)
class Record:
    """A finished run: its configuration, per-epoch history, final test accuracy and where it ran."""

    config: RunConfig
    history: tuple
    test_accuracy: float
    attention: list
    wall_seconds: float
    parameters: int
    device: str
    torch: str
    torchvision: str
    python: str
    data: str
    finished: str
    precision: str = None  # recorded from the cpu profile's seed 2 on; earlier runs were fp32 on a CPU

    @classmethod
    def from_json(cls, obj):
        """A record from its JSON form; refuses one whose stored run id its configuration does not rebuild."""
        config = RunConfig.from_dict(obj["config"])
        if obj.get("run_id", config.run_id) != config.run_id:
            raise ValueError(f"record {obj['run_id']!r}: its configuration rebuilds the id {config.run_id!r}")
        derived = ("run_id", "label", "config", "history")  # run_id and label follow from the configuration
        return cls(config=config, history=tuple(Epoch(**epoch) for epoch in obj["history"]),
                   **{k: v for k, v in obj.items() if k not in derived})

    def to_json(self):
        """The JSON form :meth:`from_json` reads; history fields a run did not record are left out."""
        obj = dict(run_id=self.run_id, label=self.label, config=self.config.as_dict(),
                   history=[{k: v for k, v in vars(e).items() if v is not None} for e in self.history])
        obj.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("config", "history")})
        return obj

    @property
    def run_id(self):
        return self.config.run_id

    @property
    def configuration(self) -> Configuration:
        return self.config.configuration

    @property
    def label(self):
        return self.config.label

    @property
    def seed(self):
        return self.config.seed

    @property
    def profile(self):
        return self.config.profile

    @property
    def accuracy(self):
        """Final test accuracy on the whole test set, in %."""
        return 100 * self.test_accuracy

    @property
    def last_epoch(self) -> Epoch:
        return self.history[-1]

    @property
    def last_epoch_change(self):
        """Points the per-epoch test accuracy moved in the last epoch; NaN for a one-epoch run."""
        if len(self.history) < 2:
            return math.nan
        return 100 * (self.history[-1].test_accuracy - self.history[-2].test_accuracy)


def writable_results():
    """Where new records go: ``CBAM_RESULTS``, else the checkout's ``results/``, else ``./results``."""
    if os.environ.get("CBAM_RESULTS"):
        return Path(os.environ["CBAM_RESULTS"])
    if (CHECKOUT / "pyproject.toml").exists() and (CHECKOUT / "results").is_dir():
        return CHECKOUT / "results"
    return Path.cwd() / "results"


def results_path(results=None):
    """The folders searched for records, in order; the first is where new runs are written.

    With ``results`` given, that folder alone. Otherwise :func:`writable_results`, then, read-only,
    the records shipped inside an installed package, so a reader of an installed wheel (Colab) sees
    the book's runs without training them.
    """
    if results is not None:
        return [Path(results)]
    folders = [writable_results()]
    if SHIPPED.is_dir() and SHIPPED.resolve() != folders[0].resolve():
        folders.append(SHIPPED)
    return folders


def located(name, results=None):
    """``name`` (a path under a results folder) in the first folder of :func:`results_path` that has it, else in
    the first folder, where new files are written."""
    folders = results_path(results)
    return next((folder / name for folder in folders if (folder / name).exists()), folders[0] / name)


def record_path(config, results=None):
    """Where ``config``'s record is: the first folder of :func:`results_path` that has it, else where it would be written."""
    return located(Path(config.profile.name) / f"{config.run_id}.json", results)


def weights_path(config, results=None):
    """Where ``config``'s final weights are: the first folder of :func:`results_path` that has them, else where
    :func:`run` with ``keep_weights`` writes them."""
    return located(weights_name(config), results)


def load_network(configuration, seed=0, profile="annealed", results=None):
    """The trained network of a named configuration (:mod:`.configs`) at ``seed``, in eval mode, from the weights
    a run with ``keep_weights`` saved (shipped in the package for a few runs); raises when there are none."""
    config = configuration.at(seed, profile)
    path = weights_path(config, results)
    if not path.exists():
        raise FileNotFoundError(f"no weights for {config.run_id} ({configuration.label}, seed {seed}, profile "
                                f"{config.profile.name}); train them with `python -m cbam_helpers reproduce "
                                f"--keep-weights` into a results folder")
    return load_weights(config.build_model(), path).eval()


def retrained_record(config, results=None):
    """``config``'s run trained a second time from scratch (``<profile>/retrained/``), to set beside its record:
    the book's check that training repeats; ``None`` when it was not retrained."""
    path = located(Path(config.profile.name) / "retrained" / f"{config.run_id}.json", results)
    return read_record(path) if path.exists() else None


def checkpoint_path(config, results=None):
    return results_path(results)[0] / config.profile.name / "checkpoints" / f"{config.run_id}.pt"


def read_record(path):
    return Record.from_json(json.loads(Path(path).read_text()))


def run(config, data=None, *, results=None, force=False, device=None, progress=True, keep_weights=False):
    """The :class:`Record` of ``config``: read from disk when it exists (unless ``force``), else trained and written.

    ``data`` is a CIFAR10 (see :func:`load_cifar10`), or a function returning one, called only
    when training is needed. With ``keep_weights`` the final weights are written too (:func:`weights_path`); a
    record that exists without them is refused rather than silently kept: retrain it with ``force`` into a
    scratch ``results`` folder, so that a committed record is never overwritten.
    """
    path, checkpoint = record_path(config, results), checkpoint_path(config, results)
    if path.exists() and not force:
        if keep_weights and not weights_path(config, results).exists():
            raise FileExistsError(f"{config.run_id} has a record but no weights: retrain it with force=True into "
                                  f"a scratch results folder to keep its weights")
        return read_record(path)
    path = results_path(results)[0] / config.profile.name / path.name  # a shipped record is never overwritten
    if force:
        checkpoint.unlink(missing_ok=True)
    if data is None:
        data = load_cifar10
    if callable(data):
        data = data()
    device = device or choose_device()
    model = config.build_model()
    probes = book_probes(data.test_images, config.profile, config.inputs, device)
    history = fit(model, data, config.profile, seed=config.seed, inputs=config.inputs, checkpoint=checkpoint,
                  probes=probes, device=device, progress=progress, label=config.label)
    last = history[-1]
    record = dict(
        run_id=config.run_id, label=config.label, config=config.as_dict(), history=history,
        test_accuracy=last.get("final_test_accuracy", last["test_accuracy"]), attention=last.get("attention"),
        wall_seconds=sum(epoch["seconds"] for epoch in history), parameters=count_parameters(model),
        device=device_name(device), precision=precision_name(device), torch=torch.__version__,
        torchvision=torchvision.__version__, python=platform.python_version(), data=data.source,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    if keep_weights:
        save_weights(model, results_path(results)[0] / weights_name(config), config.run_id)
    write_json(record, path)
    checkpoint.unlink(missing_ok=True)  # the record now holds the run; the checkpoint was only for resuming
    return Record.from_json(record)


def load_records(profile=None, results=None):
    """Every :class:`Record` of ``profile`` on :func:`results_path` whose settings match the profile as defined now."""
    profile = get_profile(profile)
    found = {}
    for folder in results_path(results):
        for path in sorted((folder / profile.name).glob("*.json")):
            found.setdefault(path.stem, path)  # an earlier folder's copy wins
    records = [read_record(found[stem]) for stem in sorted(found)]
    return [r for r in records if r.profile == profile]


def pilot_records(profile):
    """Records of the pilot runs behind ``profile``'s settings (``results/pilot/``), whatever their settings."""
    profile = get_profile(profile)
    found = next((folder / "pilot" / profile.name for folder in results_path()
                  if (folder / "pilot" / profile.name).is_dir()), None)
    return [] if found is None else [read_record(path) for path in sorted(found.glob("*.json"))]


def select(records, configuration):
    """The records of one configuration, by seed."""
    return sorted((r for r in records if r.configuration == configuration), key=lambda r: r.seed)
