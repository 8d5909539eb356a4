"""The book's experiments as lists of run configurations, and the command that reproduces them."""
import functools
import math
import os

import pandas as pd

from .data import load_cifar10
from .jobs import run_all
from .profiles import CPU, FULL, get_profile
from .records import RunConfig, load_records, record_path, run, summary
from .train import choose_device, device_name

# Numbers reported by the post the book follows (its own runs, not ours): final test accuracy in %
# at 112x112, batch 32, lr 0.01, 20 epochs, and its mean attention per input channel (R, G, B, 3 noise).
POST_ACCURACY = {
    "none, RGB": 84.53,
    "last, RGB": 85.47,
    "none, RGB + 3 noise": 83.73,
    "first, RGB + 3 noise": 84.34,
}
POST_ATTENTION = (0.985, 0.964, 0.911, 0.0066, 0.0051, 0.0070)

NONE = dict(attention_loc="none")
NOISE = dict(noise_channels=3)
EXPERIMENTS = {
    1: (NONE, dict(attention_loc="last")),
    2: (NONE, dict(NONE, **NOISE), dict(attention_loc="first", **NOISE)),
    "descriptors": (NONE, *(dict(attention_loc="blocks", gate=gate, reduction_ratio=16)
                            for gate in ("cbam-avg", "cbam-max", "cbam"))),
    "capacity": (NONE, dict(attention_loc="last"), dict(attention_loc="last", reduction_ratio=16),
                 dict(attention_loc="last", gate="residual-mlp")),
    "spatial": (NONE, dict(attention_loc="blocks", reduction_ratio=16),
                dict(attention_loc="blocks", gate="cbam-spatial", reduction_ratio=16)),
    "signal": (dict(NONE, **NOISE), dict(attention_loc="first", **NOISE),
               dict(attention_loc="first", gate="scale", **NOISE),
               *(dict(attention_loc="first", signal=rho, **NOISE) for rho in (0.2, 0.5, 1.0))),
    "controls": (NONE, dict(attention_loc="last"), dict(attention_loc="last", gate="residual-mlp"),
                 dict(NONE, **NOISE), dict(attention_loc="first", **NOISE),
                 dict(attention_loc="first", gate="cbam-constant", **NOISE)),
}
"""Each experiment's configurations, as :class:`RunConfig` fields besides the seed and profile.

1: baseline against attention on the last feature map. 2: RGB baseline, RGB + 3 noise channels,
and RGB + noise with attention on the input. The named ones are chapter 6's: which descriptor feeds
the gate, attention or extra parameters, channel and spatial gates, and extra channels that carry
some of the image (``signal``) with a constant-scale control. ``controls`` is the annealed profile's set: the
post's four configurations and two matched controls, the same parameters as ``last`` with no gate
(``residual-mlp``) and CBAM's input gate fed learned descriptors instead of the image's (``cbam-constant``).
"""


def experiment_key(name):
    """``1``, ``'1'`` and ``'signal'`` name experiments; anything else is refused with the choices."""
    key = int(name) if isinstance(name, str) and name.isdigit() else name
    if key not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(map(str, EXPERIMENTS))}")
    return key


def recorded_seeds(profile=None, results=None, experiment=None):
    """Seeds with records under the profile as defined now; ``[0]`` when there are none.

    With ``experiment``, only the seeds that have a record of every one of its configurations, so that
    showing the recorded seeds never starts training the configuration a seed still lacks.
    """
    records = load_records(profile, results)
    seeds = {r["config"]["seed"] for r in records}
    if experiment is not None:
        labels = {c.label for c in configs(experiment, profile, (0,))}
        seeds = {s for s in seeds if labels <= {r["label"] for r in records if r["config"]["seed"] == s}}
    return sorted(seeds) or [0]


def configs(experiment, profile=None, seeds=(0,), results=None):
    """Run configurations of ``experiment``; ``seeds=None`` means its :func:`recorded_seeds` in ``results``."""
    specs = EXPERIMENTS[experiment_key(experiment)]
    profile = get_profile(profile)
    if seeds is None:
        seeds = recorded_seeds(profile, results, experiment)
    return [RunConfig(**dict(dict(noise_channels=0), **spec), seed=seed, profile=profile)
            for spec in specs for seed in seeds]


def shown_profile(results=None):
    """The profile a chapter shows: ``CBAM_PROFILE``, else ``full`` where its records exist, else ``cpu``.

    Whatever the device: a reader with a GPU sees the recorded runs too, and trains only on asking.
    """
    if os.environ.get("CBAM_PROFILE"):
        return get_profile(os.environ["CBAM_PROFILE"])
    return FULL if load_records(FULL, results) else CPU


def plan(experiment, profile=None, seeds=None, results=None, device=None):
    """A sentence saying what :func:`run_experiment` will do: read every record, or train how many runs, how long."""
    profile = get_profile(profile)
    wanted = configs(experiment, profile, seeds, results)
    missing = [c for c in wanted if not record_path(c, results).exists()]
    seeds = sorted({c.seed for c in wanted})
    where = f"the `{profile.name}` profile, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    if not missing:
        return f"All {len(wanted)} runs of this experiment on {where} have records: nothing trains."
    from .bench import estimate_run_seconds  # times a few training steps, only when something will train

    device = device or choose_device()
    seconds = estimate_run_seconds(profile, device)
    return (f"{len(missing)} of the {len(wanted)} runs on {where} have no record and train now: about "
            f"{duration(seconds)} each on {device_name(device)} (estimated from a few timed steps of the "
            f"baseline), {duration(len(missing) * seconds)} in all. Every epoch is checkpointed, so an "
            f"interrupted run resumes where it stopped.")


def duration(seconds):
    return f"{seconds:.0f} seconds" if seconds < 90 else f"{seconds / 60:.0f} minutes"


def run_experiment(experiment, profile=None, seeds=(0,), data=None, **kwargs):
    """Records of every run of ``experiment``; missing runs are trained, existing ones read."""
    return [run(config, data, **kwargs) for config in configs(experiment, profile, seeds)]


def reproduce(profile=None, seeds=(0,), experiments=(1, 2), jobs=1, **kwargs):
    """Run what is missing of ``experiments``, seed by seed, and return ``{experiment: summary table}``.

    A configuration shared between experiments (the RGB baseline) is trained once; ``jobs`` > 1
    trains that many configurations at once, each in its own process (see :func:`run_all`).
    """
    experiments = [experiment_key(n) for n in experiments]
    queue = {c.run_id: c for seed in seeds for n in experiments for c in configs(n, profile, (seed,))}
    data = functools.cache(load_cifar10)  # loaded once, and only if something must be trained
    records = run_all(list(queue.values()), data, jobs=jobs, **kwargs)
    return {n: summary([records[c.run_id] for c in configs(n, profile, seeds)]) for n in experiments}


def compare_with_post(records):
    """Our summary beside the post's reported accuracy, with the profile and data of our runs."""
    table = summary(records)
    table.insert(1, "post_reported", table["configuration"].map(POST_ACCURACY))
    by_label = {r["label"]: r for r in records}
    table["profile"] = [by_label[c]["config"]["profile"]["name"] for c in table["configuration"]]
    table["data"] = [by_label[c]["data"].removeprefix("CIFAR-10 ") for c in table["configuration"]]
    return table


def protocol(profile):
    """A profile's training protocol in a few words, e.g. ``'112x112, 20 epochs, 50,000 images'``."""
    images = f"{profile.train_images:,}" if profile.train_images else "50,000"
    return f"{profile.resolution}x{profile.resolution}, {profile.epochs} epochs, {images} images"


def source(profile):
    """How :func:`across_profiles` names the rows of ``profile``."""
    return f"{profile.name} profile"


def across_profiles(experiment, profiles=(FULL, CPU), results=None):
    """The post's reported single runs beside every profile's recorded seeds of ``experiment``, one row each.

    The post's runs follow the ``full`` profile's protocol. A profile without records of the experiment has
    no rows; :func:`missing_profiles` names it.
    """
    labels = [c.label for c in configs(experiment, CPU, (0,))]
    rows = [dict(configuration=label, source="reported by the post", protocol=protocol(FULL), n=1,
                 mean_accuracy=POST_ACCURACY[label], std_accuracy=math.nan, per_seed=f"{POST_ACCURACY[label]:.2f}")
            for label in labels if label in POST_ACCURACY]
    for profile in profiles:
        seeds = recorded_seeds(profile, results, experiment)
        records = [r for r in load_records(profile, results) if r["label"] in labels and r["config"]["seed"] in seeds]
        rows += [dict(row, source=source(profile), protocol=protocol(profile))
                 for row in summary(records).to_dict("records")]
    order = {label: i for i, label in enumerate(labels)}
    table = pd.DataFrame(rows, columns=["configuration", "source", "protocol", "n", "mean_accuracy", "std_accuracy",
                                        "per_seed"])
    return table.sort_values("configuration", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def missing_profiles(table, profiles=(FULL, CPU)):
    """The profiles an :func:`across_profiles` table has no rows of, as a sentence; empty when it has them all."""
    missing = [p for p in profiles if source(p) not in set(table["source"])]
    if not missing:
        return ""
    names = " and ".join(f"`{p.name}`" for p in missing)
    gpu = " (the post's protocol, which needs a GPU)" if FULL in missing else ""
    return f"No records of this experiment exist yet for the {names} profile{'s' if len(missing) > 1 else ''}{gpu}."
