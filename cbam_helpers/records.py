"""One JSON record per finished run under ``results/<profile>/``, and the tables built from them.

A record is looked up by its configuration: asking for a run that exists returns its record without
training. Records are written atomically, so an interrupted run never leaves half a record.
"""
import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torchvision

from .data import load_cifar10, replace_atomically
from .mobilenet import MobileNet, count_parameters
from .profiles import Profile, get_profile
from .train import choose_device, device_name, fit, precision_name

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent
SHIPPED = PACKAGE / "results"
"""Where an installed wheel carries the book's committed records (the checkout's ``results/``, packed at build)."""


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


@dataclass(frozen=True)
class RunConfig:
    """What identifies a run: the model, its input, the seed and the whole profile.

    ``gate`` names the module at ``attention_loc`` (see :data:`~cbam_helpers.attention.GATES`);
    ``signal`` is how much of the grayscale image the extra input channels carry (0: pure noise).
    A field at its default stays out of :meth:`as_dict`, so records made before it existed keep their id.
    """

    attention_loc: str
    noise_channels: int
    seed: int
    profile: Profile
    reduction_ratio: float = 1.0
    gate: str = "cbam"
    signal: float = 0.0

    @property
    def label(self):
        """The configuration without its seed, e.g. ``'last, RGB'`` or ``'blocks cbam-avg r=16, RGB'``."""
        model = self.attention_loc
        if self.gate != "cbam":
            model += f" {self.gate}"
        if self.reduction_ratio != 1.0:
            model += f" r={self.reduction_ratio:g}"
        if self.noise_channels == 0:
            channels = "RGB"
        elif self.signal:
            channels = f"RGB + {self.noise_channels} gray (rho={self.signal:g})"
        else:
            channels = f"RGB + {self.noise_channels} noise"
        return f"{model}, {channels}"

    def as_dict(self):
        fields = dict(attention_loc=self.attention_loc, noise_channels=self.noise_channels, seed=self.seed,
                      reduction_ratio=self.reduction_ratio, profile=self.profile.as_dict())
        if self.gate != "cbam":
            fields["gate"] = self.gate
        if self.signal:
            fields["signal"] = self.signal
        return fields

    @property
    def run_id(self):
        digest = hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:8]
        gate = "" if self.gate == "cbam" else f"{self.gate}-"
        noise = f"noise{self.noise_channels}-" if self.noise_channels else ""
        signal = f"rho{self.signal:g}-" if self.signal else ""
        return f"{self.attention_loc}-{gate}{noise}{signal}r{self.reduction_ratio:g}-seed{self.seed}-{digest}"

    def build_model(self):
        torch.manual_seed(self.seed)
        return MobileNet(self.attention_loc, input_channel=3 + self.noise_channels,
                         reduction_ratio=self.reduction_ratio, gate=self.gate)


def record_path(config, results=None):
    """Where ``config``'s record is: the first folder of :func:`results_path` that has it, else where it would be written."""
    name = Path(config.profile.name) / f"{config.run_id}.json"
    folders = results_path(results)
    return next((folder / name for folder in folders if (folder / name).exists()), folders[0] / name)


def checkpoint_path(config, results=None):
    return results_path(results)[0] / config.profile.name / "checkpoints" / f"{config.run_id}.pt"


def run(config, data=None, *, results=None, force=False, device=None, progress=True):
    """The record of ``config``: read from disk when it exists (unless ``force``), else trained and written.

    ``data`` is a CIFAR10 (see :func:`load_cifar10`), or a function returning one, called only
    when training is needed.
    """
    path, checkpoint = record_path(config, results), checkpoint_path(config, results)
    if path.exists() and not force:
        return json.loads(path.read_text())
    path = results_path(results)[0] / config.profile.name / path.name  # a shipped record is never overwritten
    if force:
        checkpoint.unlink(missing_ok=True)
    if data is None:
        data = load_cifar10
    if callable(data):
        data = data()
    device = device or choose_device()
    model = config.build_model()
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    history = fit(model, data, config.profile, seed=config.seed, noise_channels=config.noise_channels,
                  signal=config.signal, checkpoint=checkpoint, device=device, progress=progress, label=config.label)
    record = dict(
        run_id=config.run_id, label=config.label, config=config.as_dict(), history=history,
        test_accuracy=history[-1].get("final_test_accuracy", history[-1]["test_accuracy"]), attention=history[-1]["attention"],
        wall_seconds=sum(epoch["seconds"] for epoch in history), parameters=count_parameters(model),
        device=device_name(device), precision=precision_name(device), torch=torch.__version__,
        torchvision=torchvision.__version__, python=platform.python_version(), data=data.source,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    write_json(record, path)
    return record


def write_json(obj, path):
    replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1)))


def load_records(profile=None, results=None):
    """Every record of ``profile`` on :func:`results_path` whose settings match the profile as it is defined now."""
    profile = get_profile(profile)
    found = {}
    for folder in results_path(results):
        for path in sorted((folder / profile.name).glob("*.json")):
            found.setdefault(path.stem, path)  # an earlier folder's copy wins
    records = [json.loads(found[stem].read_text()) for stem in sorted(found)]
    return [r for r in records if r["config"]["profile"] == profile.as_dict()]


def pilot_records(profile):
    """Records of the pilot runs behind ``profile``'s settings (``results/pilot/``), whatever their settings."""
    profile = get_profile(profile)
    found = next((folder / "pilot" / profile.name for folder in results_path()
                  if (folder / "pilot" / profile.name).is_dir()), None)
    return [] if found is None else [json.loads(path.read_text()) for path in sorted(found.glob("*.json"))]


def summary(records):
    """Per configuration: mean and standard deviation of final test accuracy (in %) over seeds, n, and each seed's."""
    columns = ["configuration", "mean_accuracy", "std_accuracy", "n", "per_seed"]
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(dict(configuration=r["label"], seed=r["config"]["seed"], accuracy=100 * r["test_accuracy"])
                         for r in records).sort_values("seed", kind="stable")
    groups = frame.groupby("configuration", sort=False)["accuracy"]
    table = groups.agg(["mean", "std", "count"]).reset_index()
    table["per_seed"] = groups.agg(lambda a: ", ".join(f"{v:.2f}" for v in a)).values
    table = table.rename(columns={"mean": "mean_accuracy", "std": "std_accuracy", "count": "n"})
    order = list(dict.fromkeys(r["label"] for r in records))  # configurations in the order they were asked for
    return table.set_index("configuration").loc[order].reset_index()[columns]


def history_frame(records):
    """All per-epoch rows of ``records`` in one long DataFrame, for learning curves."""
    rows = [dict(epoch, configuration=r["label"], seed=r["config"]["seed"]) for r in records for epoch in r["history"]]
    return pd.DataFrame(rows).drop(columns=["attention", "attention_std", "stem_norm", "spatial_maps"], errors="ignore")
