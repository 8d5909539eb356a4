"""The book's two experiments as lists of run configurations, and the command that reproduces them."""
from .profiles import get_profile
from .records import RunConfig, run, summary

EXPERIMENTS = {
    1: (("none", 0), ("last", 0)),
    2: (("none", 0), ("none", 3), ("first", 3)),
}
"""Experiment 1: baseline against attention on the last feature map.
Experiment 2: RGB baseline, RGB + 3 noise channels, and RGB + noise with attention on the input."""


def configs(experiment, profile=None, seeds=(0,), reduction_ratio=1.0):
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {sorted(EXPERIMENTS)}")
    profile = get_profile(profile)
    return [RunConfig(loc, noise, seed, profile, reduction_ratio)
            for loc, noise in EXPERIMENTS[experiment] for seed in seeds]


def run_experiment(experiment, profile=None, seeds=(0,), data=None, **kwargs):
    """Records of every run of ``experiment``; missing runs are trained, existing ones read."""
    if data is None:
        from .data import load_cifar10
        data = load_cifar10
    return [run(config, data, **kwargs) for config in configs(experiment, profile, seeds)]


def reproduce(profile=None, seeds=(0,), experiments=(1, 2), **kwargs):
    """Run what is missing of ``experiments`` and return ``{experiment: summary table}``."""
    from .data import load_cifar10

    loaded = {}

    def data():
        if "cifar" not in loaded:
            loaded["cifar"] = load_cifar10()
        return loaded["cifar"]

    return {n: summary(run_experiment(n, profile, seeds, data=data, **kwargs)) for n in experiments}
