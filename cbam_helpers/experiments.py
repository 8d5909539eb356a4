"""The book's two experiments as lists of run configurations, and the command that reproduces them."""
import functools

from .data import load_cifar10
from .profiles import get_profile
from .records import RunConfig, load_records, run, summary

# Numbers reported by the post the book follows (its own runs, not ours): final test accuracy in %
# at 112x112, batch 32, lr 0.01, 20 epochs, and its mean attention per input channel (R, G, B, 3 noise).
POST_ACCURACY = {
    "none, RGB": 84.53,
    "last, RGB": 85.47,
    "none, RGB + 3 noise": 83.73,
    "first, RGB + 3 noise": 84.34,
}
POST_ATTENTION = (0.985, 0.964, 0.911, 0.0066, 0.0051, 0.0070)

EXPERIMENTS = {
    1: (("none", 0), ("last", 0)),
    2: (("none", 0), ("none", 3), ("first", 3)),
}
"""Experiment 1: baseline against attention on the last feature map.
Experiment 2: RGB baseline, RGB + 3 noise channels, and RGB + noise with attention on the input."""


def recorded_seeds(profile=None, results=None):
    """Seeds that have at least one record under the profile as defined now; ``[0]`` when none has."""
    return sorted({r["config"]["seed"] for r in load_records(profile, results)}) or [0]


def configs(experiment, profile=None, seeds=(0,), reduction_ratio=1.0):
    """Run configurations of ``experiment``; ``seeds=None`` means :func:`recorded_seeds`."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {sorted(EXPERIMENTS)}")
    profile = get_profile(profile)
    if seeds is None:
        seeds = recorded_seeds(profile)
    return [RunConfig(loc, noise, seed, profile, reduction_ratio)
            for loc, noise in EXPERIMENTS[experiment] for seed in seeds]


def run_experiment(experiment, profile=None, seeds=(0,), data=None, **kwargs):
    """Records of every run of ``experiment``; missing runs are trained, existing ones read."""
    return [run(config, data, **kwargs) for config in configs(experiment, profile, seeds)]


def reproduce(profile=None, seeds=(0,), experiments=(1, 2), **kwargs):
    """Run what is missing of ``experiments`` and return ``{experiment: summary table}``."""
    data = functools.cache(load_cifar10)  # loaded once, and only if something must be trained
    return {n: summary(run_experiment(n, profile, seeds, data=data, **kwargs)) for n in experiments}


def compare_with_post(records):
    """Our summary beside the post's reported accuracy, with the profile and data of our runs."""
    table = summary(records)
    table.insert(1, "post_reported", table["configuration"].map(POST_ACCURACY))
    by_label = {r["label"]: r for r in records}
    table["profile"] = [by_label[c]["config"]["profile"]["name"] for c in table["configuration"]]
    table["data"] = [by_label[c]["data"].removeprefix("CIFAR-10 ") for c in table["configuration"]]
    return table
