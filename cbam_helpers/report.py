"""Machinery lines for the chapters, computed from run records: provenance, run times, and the sentences chapter 6
still reads from here until its rewrite on the annealed records. The argument of a chapter is written in it."""
import statistics

import pandas as pd

from .comparisons import PairedComparison, compare


def provenance(records):
    """Which profile, device, data and software produced ``records``."""
    profile = records[0].profile
    devices = sorted({r.device for r in records})
    data = sorted({r.data for r in records})
    seeds = sorted({r.seed for r in records})
    torches = sorted({r.torch for r in records})
    minutes = sum(r.wall_seconds for r in records) / 60
    subset = "all" if profile.train_images is None else f"{profile.train_images:,}"
    tests = "all" if profile.test_images is None else f"{profile.test_images:,}"
    finished = max(r.finished for r in records)[:10]
    return (
        f"**Provenance.** {len(records)} run records of the `{profile.name}` profile "
        f"({profile.resolution}x{profile.resolution} input, batch {profile.batch_size}, "
        f"lr {profile.lr}, {profile.epochs} epoch{'s' if profile.epochs > 1 else ''}, {subset} training "
        f"and {tests} test images), seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}; trained on {', '.join(devices)} with torch "
        f"{', '.join(torches)}, {minutes:.0f} minutes of training in all, last finished {finished}; "
        f"data: {', '.join(data)}."
    )


def gap_statement(records, baseline, treatment):
    """One paragraph: the paired mean gap, its interval, and what the interval allows one to say."""
    c = compare(records, baseline, treatment)
    baseline, treatment = c.baseline, c.treatment
    zero = " (zero to two decimals)" if round(c.mean, 2) == 0 else ""
    # "+.2f" keeps the sign of a gap that rounds to zero: -0.004 reads "-0.00", never "+0.00"
    text = f"On the `{c.profile}` profile, `{treatment}` scores {c.mean:+.2f} points{zero} against `{baseline}`"
    if c.n < 2:
        return (f"{text}, from one seed: a single pair of runs has no measured spread, so this gap cannot be "
                f"told apart from seed noise. `python -m cbam_helpers reproduce --seeds 0 1 2` adds seeds.")
    low, high = c.interval
    per_seed = ", ".join(f"{d:+.2f}" for d in c.differences)
    text += (f", the mean of {c.n} paired differences (seeds {', '.join(map(str, c.seeds))}: {per_seed}); "
             f"95% t-interval {c.interval_text}, p = {c.p_value:.2f}. ")
    if c.n == 2:
        holds = "includes" if c.verdict == "undecided" else "excludes"
        return text + (f"The interval {holds} zero, but it rests on one degree of freedom: its width comes from a "
                       "single estimate of the spread, so two seeds cannot decide; a third seed can.")
    if c.verdict in ("undecided", "equivalent"):
        return text + f"The interval includes zero: it is compatible with gaps from {low:+.2f} to {high:+.2f} points."
    return text + (f"The interval excludes zero: on this profile `{treatment}` scores {c.verdict} than `{baseline}`.")


def convergence_note(records):
    """How much the runs still gained in their last epoch: how far from converged a profile's accuracies are."""
    gains = [r.last_epoch_change for r in records if len(r.history) >= 2]
    profile = records[0].profile
    if not gains:
        return f"The `{profile.name}` profile trains for one epoch: its accuracies say nothing about convergence."
    if profile.schedule != "constant":
        return (f"On the `{profile.name}` profile the learning rate anneals to zero, so the last epoch is where the "
                f"runs settle: test accuracy on the curve subset moved by {min(gains):+.2f} to {max(gains):+.2f} points "
                f"in the last of their {profile.epochs} epochs.")
    if min(gains) > 0:
        how = ("up in every run: they were still climbing, so each ends wherever its last epoch stopped it on the "
               "way up")
    elif max(gains) < 0:
        how = "down in every run: each ends wherever its last epoch left it"
    else:
        how = ("up in some runs and down in others: jitter around an unconverged trajectory, so each run ends "
               "wherever its last epoch left it")
    return (f"On the `{profile.name}` profile the runs had not converged: in the last of their "
            f"{profile.epochs} epochs, at a constant learning rate, test accuracy still moved by {min(gains):+.2f} "
            f"to {max(gains):+.2f} points, {how}. Every comparison drawn from these accuracies holds for this "
            f"profile only.")


def run_time_note(records):
    """How long one run of the records' profile took, from the records."""
    minutes = [r.wall_seconds / 60 for r in records]
    profile = records[0].profile.name
    devices = ", ".join(sorted({r.device for r in records}))
    return (f"One `{profile}`-profile run took {min(minutes):.0f} to {max(minutes):.0f} minutes in this book's "
            f"records ({devices}).")


def finding(records, name, baseline, treatment):
    """One summary line: a comparison's paired mean gap, its interval, and what the interval allows one to say."""
    c = compare(records, baseline, treatment)
    treatment = c.treatment
    if c.n < 2:
        return f"{name}: {c.mean:+.2f} points from one seed, which has no interval: an observation, not a finding."
    low, high = c.interval
    says = {"higher": f"the interval excludes zero: `{treatment}` scores higher on this profile",
            "lower": f"the interval excludes zero: `{treatment}` scores lower on this profile"}.get(
        c.verdict, f"the interval holds zero, compatible with gaps from {low:+.2f} to {high:+.2f}")
    return (f"{name}: {c.mean:+.2f} points, 95% interval {c.interval_text} over {c.n} seeds; {says}"
            + (" (two seeds: one degree of freedom)." if c.n == 2 else "."))


def extra_channel_scores(records):
    """The input gate's mean score on the extra channels, per run: rho (0 is pure noise), seed, score, accuracy."""
    gated = [r for r in records if r.configuration.attention_loc == "first" and r.configuration.inputs.extra_channels
             and r.configuration.gate == "cbam"]
    return pd.DataFrame([dict(rho=r.configuration.inputs.signal, seed=r.seed, score=statistics.mean(r.attention[3:]),
                              accuracy=r.accuracy) for r in gated], columns=["rho", "seed", "score", "accuracy"])


def signal_statement(records):
    """Does the input gate's score on the extra channels rise with how much of the image they carry?"""
    frame = extra_channel_scores(records)
    by_seed = frame.pivot(index="seed", columns="rho", values="score").dropna()
    if by_seed.shape[1] < 2 or by_seed.empty:
        return "Fewer than two signal strengths are recorded for a common seed: nothing to compare yet."
    rhos = list(by_seed.columns)
    means = ", ".join(f"{by_seed[rho].mean():.3f} at rho {rho:g}" for rho in rhos)
    rising = sum(all(a < b for a, b in zip(row, row[1:])) for row in by_seed.to_numpy())
    n = len(by_seed)
    text = f"Mean score on the extra channels over {n} seed{'s' if n > 1 else ''} with every strength recorded: {means}. "
    if n == 1:
        text += f"In that seed the score {'rises' if rising else 'does not rise'} at every step of rho."
    else:
        text += f"The score rises at every step of rho in {rising} of the {n} seeds."
    top, bottom = rhos[-1], rhos[0]
    c = PairedComparison(f"rho {bottom:g}", f"rho {top:g}", "", tuple(by_seed.index),
                         tuple(by_seed[top] - by_seed[bottom]))
    if c.n >= 2:
        low, high = c.interval
        text += (f" Score at rho {top:g} minus pure noise, paired by seed: {c.mean:+.3f}, 95% interval "
                 f"[{low:+.3f}, {high:+.3f}]" + (", which excludes zero." if c.verdict in ("higher", "lower")
                                                  else ", which holds zero."))
    return text
