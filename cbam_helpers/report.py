"""Sentences and comparison tables for the chapters, computed from run records: no number in the prose is typed.

The comparisons behind them (:mod:`cbam_helpers.comparisons`) are imported here too, so that a chapter reads
sentences, verdicts and intervals from one module.
"""
import math
import statistics

import numpy as np
import pandas as pd

from .analysis import seeds_for
from .comparisons import DECISIVE_HALF_WIDTH, PairedComparison, accuracies_by_seed, claim_verdict, compare
from .records import select


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
    if c.verdict == "undecided" and c.half_width <= DECISIVE_HALF_WIDTH:
        return text + (f"The interval includes zero and is narrow: no gap is found, and any there is lies between "
                       f"{low:+.2f} and {high:+.2f} points.")
    if c.verdict == "undecided":
        return text + "The interval includes zero: these runs cannot tell the two configurations apart."
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
    says = {"better": f"the interval excludes zero: `{treatment}` scores higher on this profile",
            "worse": f"the interval excludes zero: `{treatment}` scores lower on this profile",
            "undecided": "the interval holds zero, so these runs cannot tell the two apart"}[c.verdict]
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
                 f"[{low:+.3f}, {high:+.3f}]" + (", which excludes zero." if c.verdict != "undecided"
                                                  else ", which holds zero."))
    return text


def score_spread_statement(records, configuration):
    """Are a gate's scores a per-channel constant or a per-image weighting? Its spread over images against between channels."""
    runs = select(records, configuration)
    final = np.array([r.attention for r in runs])  # seeds x channels: mean score over the 64 probe images
    low, high = np.percentile(final, [5, 95])
    seeds = f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"
    text = (f"After the last epoch, across {seeds}, 90% of the channels' mean scores lie between "
            f"**{low:.2f}** and **{high:.2f}**. ")
    spread = [r for r in runs if r.last_epoch.attention_std]
    if not spread:
        return text + ("These records predate the per-image spread of the scores, so they cannot tell a per-channel "
                       "constant from a per-image selection.")
    within = np.median([r.last_epoch.attention_std for r in spread])  # SD over the 64 images, per channel
    between = np.array([r.attention for r in spread]).std(axis=1).mean()  # SD between the channels' means
    seeds = ", ".join(str(r.seed) for r in spread)
    text += (f"In the runs that recorded it (seed {seeds}), a channel's score varies from image to image with a "
             f"median SD of **{within:.3f}** over the probe images, against an SD of {between:.3f} between the "
             f"channels' means: ")
    ratio = within / between
    if ratio < 1 / 3:
        return text + ("the scores are mostly a per-channel constant. A constant scale on the pooled features, right "
                       "before a linear classifier, is absorbed by that classifier (it could learn the scaled weights "
                       "itself), so only the small per-image part is something a plain network could not do.")
    if ratio > 0.8:
        return text + ("the scores vary from image to image about as much as between channels: a per-image weighting, "
                       "which a linear classifier after pooling could not absorb into its weights.")
    return text + (f"the image-to-image variation is {ratio:.0%} of the between-channel spread. The scores are part "
                   "per-channel constant, which the linear classifier after pooling could absorb into its own weights, "
                   "and part per-image weighting, which it could not.")


def extra_channel_statement(records, configuration):
    """How much the input gate's score on the extra channels varies across the probe images, and where it sits."""
    runs = [r for r in select(records, configuration) if r.last_epoch.attention_std]
    if not runs:
        return "These records predate the per-image spread of the scores (recorded from the cpu profile's seed 2 on)."
    spread = max(max(r.last_epoch.attention_std[3:]) for r in runs)
    mean = float(np.mean([r.attention[3:] for r in runs]))
    return (f"In the runs that recorded it (seed {', '.join(str(r.seed) for r in runs)}), the gate's score on a noise "
            f"channel varies across the 64 probe images with a standard deviation of at most **{spread:.4f}**, around "
            f"a mean of {mean:.4f}: for nearly every image the noise is scaled to less than {mean + 2 * spread:.2f} of "
            f"its size.")


CLAIM_MEANINGS = {
    "supported": "the interval excludes zero on the side claimed",
    "contradicted": "the interval excludes zero on the other side",
    "bounded": f"the interval holds zero and is at most ±{DECISIVE_HALF_WIDTH} points wide: no effect found, and "
               "none beyond its ends",
    "undecided": f"the interval holds zero and is wider than ±{DECISIVE_HALF_WIDTH} points: more seeds needed",
    "one seed": "one run each, no interval",
}


EQUAL_CLAIM_MEANINGS = dict(
    CLAIM_MEANINGS,
    supported=f"the interval holds zero and lies within ±{DECISIVE_HALF_WIDTH} points: any gap is smaller than that",
    contradicted="the interval excludes zero: the gap is real",
    undecided=f"the interval holds zero but reaches beyond ±{DECISIVE_HALF_WIDTH} points: more seeds needed",
)


def seeds_phrase(seeds):
    """A count of seeds in words; the infinity of :func:`~cbam_helpers.analysis.seeds_for` (past its search)
    reads "more than a thousand seeds"."""
    return f"{seeds:.0f} seeds" if math.isfinite(seeds) else "more than a thousand seeds"


def verdict_line(row):
    """One row of a :func:`~cbam_helpers.tables.comparison_table` of claims, as a bullet: verdict, its meaning, our
    gap and interval, and, where the table has a ``target`` and the claim is undecided, the seeds it would take."""
    meaning = (EQUAL_CLAIM_MEANINGS if row.expected == "equal" else CLAIM_MEANINGS)[row.claim]
    seeds = f"{row.n} seed{'s' if row.n > 1 else ''}"
    ours = f"{row.mean_difference:+.2f} points, {row.interval}" if row.n >= 2 else f"{row.mean_difference:+.2f} points"
    line = f"- **{row.comparison}: {row.claim}** ({meaning}). Ours {ours} over {seeds}."
    reported = getattr(row, "reported_gap", None)
    if reported is not None:
        inside = {"yes": ", which lies inside our interval", "no": ", which lies outside our interval"}.get(
            row.reported_inside, "")
        line += f" The post's single runs: {reported:+.2f}{inside}."
    needed = getattr(row, "seeds_needed", math.nan)
    if row.claim == "undecided" and row.n >= 2 and needed > row.n:
        line += (f" At the spread of these differences, an interval of ±{row.target:g} would take "
                 + f"{seeds_phrase(needed)}.")
    return line


def verdicts_statement(table):
    """Every row of a :func:`~cbam_helpers.tables.comparison_table` of claims or controls, one bullet each."""
    return "\n".join(verdict_line(row) for row in table.itertuples())


def split_gain(records, controlled):
    """A claimed gain and its two parts (a :class:`~cbam_helpers.experiments.Controlled`): the three
    :class:`~cbam_helpers.comparisons.PairedComparison` s *whole* (gate - baseline), *share* (control - baseline) and
    *beyond* (gate - control), over the seeds that have all three runs, so that seed by seed whole = share + beyond;
    None where fewer than two seeds have all three."""
    claim, control = controlled.claim, controlled.control
    wanted = (claim.baseline, control.baseline, claim.treatment)
    seeds = set.intersection(*(set(accuracies_by_seed(records, c)) for c in wanted))
    if len(seeds) < 2:
        return None
    common = [r for r in records if r.seed in seeds and r.configuration in wanted]
    return tuple(compare(common, a, b) for a, b in ((claim.baseline, claim.treatment),
                                                    (claim.baseline, control.baseline),
                                                    (control.baseline, claim.treatment)))


def attribution_statement(records, controlled):
    """How much of a claimed gain its control accounts for (a :class:`~cbam_helpers.experiments.Controlled`):
    :func:`split_gain` in words, the gate's part judged as :data:`~cbam_helpers.experiments.CONTROLS` are
    (:func:`~cbam_helpers.comparisons.claim_verdict`, ``"higher"``)."""
    claim, control, without, adds = controlled
    split = split_gain(records, controlled)
    if split is None:
        return (f"`{control.baseline.label}` and `{claim.treatment.label}` need two seeds in common with "
                f"`{claim.baseline.label}` before the gain can be split.")
    whole, share, beyond = split

    def gap(c):
        return f"{c.mean:+.2f} points {c.interval_text}"

    text = (f"Over the {whole.n} seeds that have all three runs on the `{whole.profile}` profile, "
            f"`{claim.treatment.label}` scores {gap(whole)} against `{claim.baseline.label}`. Of that, "
            f"`{control.baseline.label}` ({without}) accounts for {gap(share)}, and {adds} for {gap(beyond)} "
            f"on top of it (seed by seed, the two parts sum to the whole). ")
    verdict = claim_verdict(beyond, "higher")
    low, high = beyond.interval
    if verdict == "supported":
        return text + f"**{adds.capitalize()} adds something its control lacks**: at least {low:+.2f} points."
    if verdict == "contradicted":
        return text + f"**The control does better**: {adds} costs {-high:.2f} to {-low:.2f} points."
    if verdict == "bounded":
        return text + f"**{adds.capitalize()} adds at most {high:+.2f} points** to what `{control.baseline.label}` gives."
    return text + (f"**Undecided**: these seeds cannot yet say what {adds} adds; an interval of "
                   f"±{DECISIVE_HALF_WIDTH} would take {seeds_phrase(seeds_for(beyond.sd, DECISIVE_HALF_WIDTH))} "
                   "at this spread.")


def claims_statement(table, records):
    """Each of the post's claims in one line: its verdict on this profile, our gap and interval, the post's gap.

    ``table`` is a :func:`~cbam_helpers.tables.comparison_table` of :data:`~cbam_helpers.experiments.CLAIMS`
    with the post's accuracies as ``reported``; with a ``target`` too, an undecided claim says how many seeds an
    interval that narrow would take.
    """
    profile = records[0].profile.name
    lines = [f"On the `{profile}` profile, judged by the paired 95% interval:", "", verdicts_statement(table), "",
             convergence_note(records)]
    return "\n".join(lines)


def seed_noise_statement(table):
    """One sentence per profile of a :func:`~cbam_helpers.tables.seed_noise` table: its seed SD against its floor,
    and the seeds a +-0.5-point paired interval would need if same-seed runs were independent."""
    parts = []
    for row in table.itertuples():
        sd_difference = math.sqrt(2) * row.std_accuracy
        needed = seeds_phrase(seeds_for(sd_difference, 0.5))
        parts.append(f"on `{row.profile}` one run's accuracy varies from seed to seed with an SD of "
                     f"{row.std_accuracy:.2f} points, {row.std_accuracy / row.floor:.1f} times the test-set floor of "
                     f"{row.floor:.2f}, and its last epoch moved its per-epoch curve by {row.last_epoch} points; a difference of two "
                     f"such runs has an SD of {sd_difference:.2f}, and an interval of ±0.5 would take {needed}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def epoch_closed(record, threshold=0.1):
    """The first epoch from which the gate scored every extra channel below ``threshold`` in every later epoch too;
    ``None`` when it never did (or the run recorded no scores)."""
    closed = None
    for epoch in record.history:
        if epoch.attention is None or max(epoch.attention[3:]) >= threshold:
            closed = None
        elif closed is None:
            closed = epoch.epoch
    return closed


def noise_gate_statement(records, configuration, threshold=0.1):
    """In how many seeds the input gate closed the noise channels (every score below ``threshold``), from which
    epoch, and how far apart its final scores on RGB and on noise sit."""
    runs = [r for r in select(records, configuration) if r.attention is not None]
    if not runs:
        return f"No run of `{configuration.label}` recorded the gate's scores."
    epochs = [epoch_closed(r, threshold) for r in runs]
    closed = [e for e in epochs if e is not None]
    profile = runs[0].profile
    seeds = ", ".join(str(r.seed) for r in runs)
    text = (f"On the `{profile.name}` profile the gate of `{configuration.label}` closed the noise channels (every score below "
            f"{threshold:g} to the end of training) in **{len(closed)} of {len(runs)} seed{'s' if len(runs) > 1 else ''}** (seed"
            f"{'s' if len(runs) > 1 else ''} {seeds})")
    if closed:
        text += (f", from epoch {min(closed)}" if min(closed) == max(closed)
                 else f", from epoch {min(closed)} to {max(closed)}") + f" of {profile.epochs}"
    noise = max(max(r.attention[3:]) for r in runs)
    rgb = min(min(r.attention[:3]) for r in runs)
    return text + (f". After the last epoch its scores are at most {noise:.3f} on any noise channel and at least "
                   f"{rgb:.3f} on any RGB channel, in every seed.")


def stem_statement(table, weight_decay):
    """How the stem's noise-to-RGB weight ratio moved from the first epoch to the last, per configuration (the mean
    over seeds of a :func:`~cbam_helpers.tables.stem_ratio_table`), and what weight decay does to it."""
    if table.empty:
        return "No run of this profile recorded the stem's weight norms."
    first, last = table.columns[2], table.columns[-1]  # one column when the runs trained a single epoch
    means = table.groupby("configuration", sort=False)[list(dict.fromkeys((first, last)))].mean()
    counts = table.groupby("configuration", sort=False)["seed"].count()
    parts = [(f"`{name}` from {row[first]:.2f} {first} to {row[last]:.2f} {last}" if first != last else
              f"`{name}` {row[first]:.2f} {first}") + f" ({counts[name]} seed{'s' if counts[name] > 1 else ''})"
             for name, row in means.iterrows()]
    text = "Noise-to-RGB weight ratio of the stem, mean over seeds: " + "; ".join(parts) + "."
    if weight_decay:
        text += (f" This profile applies weight decay ({weight_decay:g}) to every convolution weight, so a weight that "
                 "gets no gradient shrinks anyway: behind a closed gate the stem's noise weights fall too, and the "
                 "ratio alone does not say which of gate and stem suppressed the noise.")
    return text


def pairing_statement(layouts, alike=0.2):
    """What pairing by seed buys in each ``{name: TwoWay}`` layout, one bullet each: the SD of a paired difference
    shrinks to ``sqrt(1 - rho)`` of an unpaired one's, ``rho`` the correlation of same-seed runs; at or below
    ``alike`` the runs are barely alike, and the pooled term's degrees of freedom are the gain."""
    lines = []
    for name, layout in layouts.items():
        rho = layout.seed_correlation
        if rho > alike:
            what = (f"same-seed runs correlate at {rho:.2f}, so pairing by seed narrows the SD of a difference to "
                    f"{math.sqrt(1 - rho):.2f} of what two independent runs would give.")
        else:
            what = (f"same-seed runs are barely alike, if at all (correlation {rho:+.2f}), so pairing buys little "
                    f"or nothing; the pooled term's {layout.df_error} degrees of freedom, against the paired "
                    f"{layout.seeds - 1}, are what narrows an interval.")
        lines.append(f"- **{name}**: {what}")
    return "\n".join(lines)


def verdict_history_statement(history):
    """Each claim of a :func:`~cbam_helpers.tables.verdict_history` table in one bullet: its verdict at each seed
    count, runs of the same verdict merged ("supported from 3 to 5 seeds"), and whether the first verdict that
    decided anything (any but ``undecided``), if reached before the last count, held to the last seed."""
    lines = []
    for name, rows in history.groupby("comparison", sort=False):
        spans = []  # [verdict, first n, last n]
        for row in rows.itertuples():
            if spans and spans[-1][0] == row.claim:
                spans[-1][2] = row.n
            else:
                spans.append([row.claim, row.n, row.n])
        words = [f"{verdict} at {first} seeds" if first == last else
                 f"{verdict} at {first} and {last} seeds" if last == first + 1 else
                 f"{verdict} from {first} to {last} seeds" for verdict, first, last in spans]
        decided = [(verdict, first) for verdict, first, _ in spans if verdict != "undecided"]
        final = spans[-1][0]
        if not decided or decided[0][1] == spans[-1][2]:  # nothing decided, or only at the last count
            end = ""
        elif decided[0][0] == final:
            end = f"; the verdict reached at {decided[0][1]} seeds held"
        else:
            end = f"; the verdict reached at {decided[0][1]} seeds did not hold"
        lines.append(f"- **{name}**: " + ", ".join(words) + end + ".")
    return "\n".join(lines)
