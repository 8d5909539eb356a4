"""The book's experiments as tuples of named configurations, and the command that reproduces them."""
import itertools
import os
from typing import NamedTuple

from cbam_helpers.engine.configs import (BASELINE, BLOCKS_AVG, BLOCKS_CBAM, BLOCKS_ECA, BLOCKS_MAX, BLOCKS_SPATIAL,
                      BLOCKS_IDENTITY, BLOCKS_PRACTICE, EXPANSION_CBAM,
                      FIRST_CONSTANT_ON_NOISE, FIRST_ON_GRAY, FIRST_ON_NOISE, FIRST_SCALE_ON_NOISE, LAST, LAST_R16,
                      LAST_RESIDUAL_MLP, NOISY_BASELINE)
from cbam_helpers.engine.data import load_cifar10
from cbam_helpers.engine.jobs import run_all
from cbam_helpers.engine.profiles import ANNEALED, CPU, FULL, get_profile
from cbam_helpers.engine.records import load_records, record_path, run
from cbam_helpers.engine.train import choose_device, device_name
from cbam_helpers.language import reading, text

EXPERIMENTS = {
    1: (BASELINE, LAST),
    2: (BASELINE, NOISY_BASELINE, FIRST_ON_NOISE),
    "descriptors": (BASELINE, BLOCKS_AVG, BLOCKS_MAX, BLOCKS_CBAM),
    "capacity": (BASELINE, LAST, LAST_R16, LAST_RESIDUAL_MLP),
    "spatial": (BASELINE, BLOCKS_CBAM, BLOCKS_SPATIAL),
    "signal": (NOISY_BASELINE, FIRST_ON_NOISE, FIRST_SCALE_ON_NOISE, *FIRST_ON_GRAY.values()),
    "controls": (BASELINE, LAST, LAST_RESIDUAL_MLP, NOISY_BASELINE, FIRST_ON_NOISE, FIRST_CONSTANT_ON_NOISE),
    "gates": (BASELINE, BLOCKS_AVG, BLOCKS_CBAM, BLOCKS_ECA, BLOCKS_SPATIAL),
    "schedule": (BASELINE, BLOCKS_CBAM),
    "placement": (BASELINE, BLOCKS_CBAM, EXPANSION_CBAM),
    "start": (BASELINE, BLOCKS_CBAM, BLOCKS_IDENTITY),
    "practice": (BASELINE, BLOCKS_IDENTITY, BLOCKS_PRACTICE),
}
"""Each experiment's configurations (:mod:`.configs`).

1: baseline against attention on the last feature map. 2: RGB baseline, RGB + 3 noise channels,
and RGB + noise with attention on the input. The named ones are chapter 6's: which descriptor feeds
the gate, attention or extra parameters, channel and spatial gates, and extra channels that carry
some of the image (``signal``) with a constant-scale control. ``controls`` is the annealed profile's set: the
post's four configurations and two matched controls, the same parameters as ``last`` with no gate
(``residual-mlp``) and CBAM's input gate fed learned descriptors instead of the image's (``cbam-constant``).
``gates`` is the annealed profile's question of which gate to put in every block: SE's average, CBAM's average and
max, ECA-Net's convolution, and CBAM with its spatial gate. ``schedule`` is run on ``annealed16`` (twice the
epochs) to ask whether the gated network was under-trained; ``placement`` adds CBAM's channel gate on the expanded
channels inside each block (``expansion``) to the annealed runs; ``start`` trains CBAM's channel gate in every block
started as the identity (``cbam-identity``), so that the untrained network is the plain one; ``practice`` adds
to that start what light networks' practice does, at least 8 hidden units and no weight decay on the gates.
"""

class Claim(NamedTuple):
    """One of the post's claims as a comparison: ``treatment`` minus ``baseline``, and the sign the post claims
    for it (``"higher"``, ``"lower"``, or ``"equal"``: no gap). Unpacks like any ``(name, baseline, treatment)``."""

    name: str
    baseline: object
    treatment: object
    expected: str


LAST_HELPS = Claim("attention last helps", BASELINE, LAST, "higher")
NOISE_HURTS = Claim("noise channels hurt", BASELINE, NOISY_BASELINE, "lower")
FIRST_RECOVERS = Claim("attention first recovers from noise", NOISY_BASELINE, FIRST_ON_NOISE, "higher")
FIRST_REACHES_RGB = Claim("attention first reaches the RGB baseline", BASELINE, FIRST_ON_NOISE, "equal")
CLAIMS = (LAST_HELPS, NOISE_HURTS, FIRST_RECOVERS, FIRST_REACHES_RGB)
"""The post's claims: the side each claims beside the verdict of our paired comparison
(:data:`~cbam_helpers.evidence.comparisons.VERDICTS`)."""

GATING_CONTROL = Claim("last gate - same-size residual MLP", LAST_RESIDUAL_MLP, LAST, "higher")
LOOKING_CONTROL = Claim("input gate - matched constant gate, on noise", FIRST_CONSTANT_ON_NOISE, FIRST_ON_NOISE,
                        "higher")
CONTROLS = (GATING_CONTROL, LOOKING_CONTROL)
"""What the annealed profile's two controls separate: gating from capacity, looking at the image from not: each is
the gate minus its control, so ``higher`` would say the gate adds something its control lacks."""


class Controlled(NamedTuple):
    """A claim of a gain and the control that splits it (:func:`~cbam_helpers.evidence.comparisons.split_gain`):
    ``control.treatment`` is ``claim.treatment`` and ``control.baseline`` the control, which ``without`` describes;
    ``adds`` names what the gate has and its control lacks."""

    claim: Claim
    control: Claim
    without: str
    adds: str


CONTROLLED = (Controlled(LAST_HELPS, GATING_CONTROL, "the same parameters with no gate", "gating"),
              Controlled(FIRST_RECOVERS, LOOKING_CONTROL, "the same gate fed learned constants instead of the image",
                         "looking at the image"))
"""Each control with the claim whose gain it splits into the control's share and the gate's."""

QUESTIONS = {
    "descriptors": (("average - none", BASELINE, BLOCKS_AVG), ("max - none", BASELINE, BLOCKS_MAX),
                    ("both - none", BASELINE, BLOCKS_CBAM), ("both - average", BLOCKS_AVG, BLOCKS_CBAM),
                    ("both - max", BLOCKS_MAX, BLOCKS_CBAM)),
    "capacity": (("last r=1 - none", BASELINE, LAST), ("last r=16 - none", BASELINE, LAST_R16),
                 ("residual MLP - none", BASELINE, LAST_RESIDUAL_MLP),
                 ("last r=1 - residual MLP", LAST_RESIDUAL_MLP, LAST)),
    "spatial": (("channel - none", BASELINE, BLOCKS_CBAM), ("channel + spatial - none", BASELINE, BLOCKS_SPATIAL),
                ("channel + spatial - channel", BLOCKS_CBAM, BLOCKS_SPATIAL)),
    "signal": (("input gate - constant scale, on noise", FIRST_SCALE_ON_NOISE, FIRST_ON_NOISE),),
    "gates": (("SE - none", BASELINE, BLOCKS_AVG), ("CBAM - none", BASELINE, BLOCKS_CBAM),
              ("ECA - none", BASELINE, BLOCKS_ECA), ("CBAM + spatial - none", BASELINE, BLOCKS_SPATIAL),
              ("CBAM - SE: the max descriptor", BLOCKS_AVG, BLOCKS_CBAM),
              ("ECA - SE: no reduction", BLOCKS_AVG, BLOCKS_ECA),
              ("CBAM + spatial - CBAM: the spatial gate", BLOCKS_CBAM, BLOCKS_SPATIAL)),
    "schedule": (("CBAM - none", BASELINE, BLOCKS_CBAM),),
    "placement": (("CBAM in the expansion - none", BASELINE, EXPANSION_CBAM),
                  ("CBAM in the expansion - on the output", BLOCKS_CBAM, EXPANSION_CBAM)),
    "start": (("CBAM from the identity - none", BASELINE, BLOCKS_IDENTITY),
              ("CBAM from the identity - from a fresh start", BLOCKS_CBAM, BLOCKS_IDENTITY)),
    "practice": (("CBAM as practice builds it - none", BASELINE, BLOCKS_PRACTICE),
                 ("CBAM as practice builds it - from the identity", BLOCKS_IDENTITY, BLOCKS_PRACTICE)),
}
"""Chapter 6's comparisons, per experiment; ``gates`` holds the planned comparisons of the annealed `blocks` runs,
``schedule`` the one asked again at twice the epochs, ``placement`` the gate's two places in the block."""

PLANNED_SEEDS = {"schedule": (0, 1, 2), "placement": (0, 1, 2), "start": tuple(range(8)),
                 "practice": tuple(range(8))}
"""The seeds planned for the questions of why the gates cost accuracy: three per configuration, read when all
have landed."""


def experiment_key(name):
    """``1``, ``'1'`` and ``'signal'`` name experiments; anything else is refused with the choices."""
    key = int(name) if isinstance(name, str) and name.isdigit() else name
    if key not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(map(str, EXPERIMENTS))}")
    return key


def experiment_names(experiments):
    """One experiment's name, or several, as a list of names."""
    return [experiments] if isinstance(experiments, (int, str)) else list(experiments)


def recorded_seeds(profile=None, results=None, experiment=None):
    """Seeds with records under the profile as defined now; ``[0]`` when there are none.

    With ``experiment``, only the seeds that have a record of every one of its configurations, so that
    showing the recorded seeds never starts training the configuration a seed still lacks.
    """
    records = load_records(profile, results)
    seeds = {r.seed for r in records} if experiment is None else complete_seeds(records, experiment)
    return sorted(seeds) or [0]


def complete_seeds(records, experiment):
    """The seeds at which ``records`` hold every configuration of ``experiment``."""
    wanted = set(EXPERIMENTS[experiment_key(experiment)])
    return {s for s in {r.seed for r in records} if wanted <= {r.configuration for r in records if r.seed == s}}


def run_configs(experiment, profile=None, seeds=(0,), results=None):
    """Run configurations of ``experiment``; ``seeds=None`` means its :func:`recorded_seeds` in ``results``."""
    profile = get_profile(profile)
    if seeds is None:
        seeds = recorded_seeds(profile, results, experiment)
    return [c.at(seed, profile) for c in EXPERIMENTS[experiment_key(experiment)] for seed in seeds]


SHOWN_SEEDS = 3
"""The fewest complete seeds for a profile to be a chapter's evidence: three give a paired interval two degrees of
freedom; two give one, an interval as likely to mislead as to inform."""


def shown_profile(experiments=(1, 2), results=None):
    """The profile a chapter shows: ``CBAM_PROFILE``; else the first of ``full`` (the post's protocol) and
    ``annealed`` that holds :data:`SHOWN_SEEDS` complete seeds of every one of ``experiments``; else ``cpu``.

    Whatever the device: a reader with a GPU sees the recorded runs too, and trains only on asking.
    """
    if os.environ.get("CBAM_PROFILE"):
        return get_profile(os.environ["CBAM_PROFILE"])
    for profile in (FULL, ANNEALED):
        records = load_records(profile, results)
        if records and all(len(complete_seeds(records, n)) >= SHOWN_SEEDS for n in experiments):
            return profile
    return CPU


def written_for(profile, readings="annealed"):
    """Whether a chapter's readings, written for the ``readings`` profile's records, apply on ``profile``, and the
    line that stands in for each one that does not: on another profile (CI's smoke runs, a reader's own) the
    numbers still show, and the sentences written for other numbers stand aside."""
    name = get_profile(profile).name
    aside = reading(text(f"*(The reading written for the {readings} records stands aside on the `{name}` "
                         "profile.)*", f"*（为 {readings} 记录写的解读在 `{name}` 配置上不适用，从略。）*"))
    return name == readings, aside


def plan(experiment, profile=None, seeds=None, results=None, device=None):
    """A sentence saying what :func:`run_experiment` will do: read every record, or train how many runs, how long."""
    profile = get_profile(profile)
    wanted = run_configs(experiment, profile, seeds, results)
    missing = [c for c in wanted if not record_path(c, results).exists()]
    seeds = sorted({c.seed for c in wanted})
    where = f"the `{profile.name}` profile, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    where_zh = f"`{profile.name}` 配置、种子 {', '.join(map(str, seeds))}"
    if not missing:
        return text(f"All {len(wanted)} runs of this experiment on {where} have records: nothing trains.",
                    f"这个实验在{where_zh}上的全部 {len(wanted)} 次运行都有记录：不训练任何东西。")
    from cbam_helpers.engine.bench import estimate_run_seconds  # times a few training steps, only when something will train

    device = device or choose_device()
    seconds = estimate_run_seconds(profile, device)
    return text(f"{len(missing)} of the {len(wanted)} runs on {where} have no record and train now: about "
                f"{duration(seconds)} each on {device_name(device)} (estimated from a few timed steps of the "
                f"baseline), {duration(len(missing) * seconds)} in all. Every epoch is checkpointed, so an "
                f"interrupted run resumes where it stopped.",
                f"{where_zh}上的 {len(wanted)} 次运行中有 {len(missing)} 次没有记录，现在训练：在 "
                f"{device_name(device)} 上每次约 {duration(seconds)}（由基线的几个计时步估计），共约 "
                f"{duration(len(missing) * seconds)}。每个 epoch 都保存检查点，中断的运行会从停下处续跑。")


def next_seed(experiments, profile=None, results=None):
    """The smallest seed at which some configuration of ``experiments`` (one or several) has no record, and the
    runs it lacks there: what adding one seed to a chapter would train."""
    profile = get_profile(profile)
    names = experiment_names(experiments)
    wanted = dict.fromkeys(c for name in names for c in EXPERIMENTS[experiment_key(name)])
    for seed in itertools.count():
        missing = [c.at(seed, profile) for c in wanted if not record_path(c.at(seed, profile), results).exists()]
        if missing:
            return seed, missing


def next_seed_note(experiments, profile=None, results=None):
    """A sentence for an exercise that adds a seed: which seed comes next, what it trains, and how to ask for it.

    For one experiment it names the chapter's ``SEEDS`` too: its complete seeds and the new one. A chapter that
    shows several experiments reads each at its own complete seeds, so one list would drop some; it gets the command.
    """
    profile = get_profile(profile)
    names = experiment_names(experiments)
    seed, missing = next_seed(names, profile, results)
    labels = ", ".join(f"`{c.label}`" for c in missing)
    runs = text(f"{len(missing)} run{'s' if len(missing) > 1 else ''} ({labels})", f"{len(missing)} 次运行（{labels}）")
    command = (f"`python -m cbam_helpers reproduce --profile {profile.name} --seeds {seed} "
               f"--experiments {' '.join(map(str, names))}`")
    command_zh = command
    if len(names) == 1:
        seeds = sorted(complete_seeds(load_records(profile, results), names[0]) | {seed})
        command = f"`SEEDS = {seeds}` in the parameters cell, or {command}"
        command_zh = f"在参数单元格中设 `SEEDS = {seeds}`，或运行 {command_zh}"
    return text(f"The first seed with a run missing on the `{profile.name}` profile is {seed}: it trains {runs}. "
                f"Ask for it with {command}.",
                f"`{profile.name}` 配置上第一个缺少运行的种子是 {seed}：它要训练 {runs}。"
                f"要训练它，{command_zh}。")


def duration(seconds):
    if seconds < 90:
        return text(f"{seconds:.0f} seconds", f"{seconds:.0f} 秒")
    return text(f"{seconds / 60:.0f} minutes", f"{seconds / 60:.0f} 分钟")


def run_experiment(experiment, profile=None, seeds=(0,), data=None, **kwargs):
    """Records of every run of ``experiment``; missing runs are trained, existing ones read."""
    return [run(config, data, **kwargs) for config in run_configs(experiment, profile, seeds)]


def reproduce(profile=None, seeds=(0,), experiments=(1, 2), jobs=1, max_runs=None, **kwargs):
    """Run what is missing of ``experiments``, seed by seed, and return ``{experiment: its records}``.

    A configuration shared between experiments (the RGB baseline) is trained once; ``jobs`` > 1
    trains that many configurations at once, each in its own process (see :func:`run_all`). ``max_runs``
    trains at most that many of the missing runs, the first in seed order, so that a session can size its
    queue to finish; the tables then cover what is recorded.
    """
    experiments = [experiment_key(n) for n in experiments]
    queue = {c.run_id: c for seed in seeds for n in experiments for c in run_configs(n, profile, (seed,))}
    if max_runs is not None:
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 0:
            raise ValueError(f"max_runs must be an int >= 0, got {max_runs!r}")
        missing = [i for i, c in queue.items() if kwargs.get("force") or not record_path(c, kwargs.get("results")).exists()]
        queue = {i: c for i, c in queue.items() if i not in missing[max_runs:]}
    records = run_all(list(queue.values()), load_cifar10, jobs=jobs, **kwargs)  # loaded only if something trains
    return {n: [records[c.run_id] for c in run_configs(n, profile, seeds) if c.run_id in records]
            for n in experiments}


def complete_records(experiments, profile, results=None):
    """The records of one experiment, or several, on ``profile``: for each, at the seeds that have all of its
    configurations (none when no seed has); a run shared between experiments appears once."""
    names = experiment_names(experiments)
    records = load_records(profile, results)  # read once for every experiment
    found = {}
    for name in names:
        seeds = complete_seeds(records, name)
        wanted = set(EXPERIMENTS[experiment_key(name)])
        found.update({r.run_id: r for r in records if r.configuration in wanted and r.seed in seeds})
    return list(found.values())
