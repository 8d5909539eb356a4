"""Two configurations compared on their per-seed paired differences, and the book's one vocabulary of verdicts.

Runs with the same seed share the backbone's initialisation and the order of the data (``RunConfig.build_model``
seeds before building), so a seed's difference is a like-for-like comparison; how much that narrows the spread
depends on how alike same-seed runs are, which the records measure (on the annealed profile: hardly at all).
A comparison gives the mean difference, its standard error, t-intervals with n - 1 degrees of freedom, the
prediction interval of one more seed's difference, and a verdict (:data:`VERDICTS`) against :data:`MARGIN`."""
import math
from dataclasses import dataclass

from scipy import stats


def t_quantile(p, df):
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(p, df))


def two_sided_p(t, df):
    """Two-sided p of a t statistic with ``df`` degrees of freedom."""
    return float(2 * stats.t.sf(abs(t), df))


def interval_half_width(sd_difference, n, df=None, confidence=0.95):
    """Half-width of the ``confidence`` t-interval of a mean difference over ``n`` seeds (``df``: n - 1 by default);
    infinite with fewer than two seeds."""
    df = n - 1 if df is None else df
    if n < 2 or df < 1:
        return math.inf
    return t_quantile(0.5 + confidence / 2, df) * sd_difference / math.sqrt(n)


def format_interval(low, high):
    """An interval as the chapters print it, ``[-0.36, +0.80]``: signed, to two decimals."""
    return f"[{low:+.2f}, {high:+.2f}]"


@dataclass(frozen=True)
class PairedComparison:
    """``treatment`` minus ``baseline`` in accuracy points, seed by seed."""

    baseline: str
    treatment: str
    profile: str
    seeds: tuple
    differences: tuple

    @property
    def n(self):
        return len(self.differences)

    @property
    def mean(self):
        return sum(self.differences) / self.n if self.n else math.nan

    @property
    def sd(self):
        if self.n < 2:
            return math.nan
        return math.sqrt(sum((d - self.mean) ** 2 for d in self.differences) / (self.n - 1))

    @property
    def se(self):
        return self.sd / math.sqrt(self.n) if self.n >= 2 else math.nan

    @property
    def half_width(self):
        """Half the width of the 95% t-interval; NaN with fewer than two seeds."""
        return interval_half_width(self.sd, self.n) if self.n >= 2 else math.nan

    @property
    def interval(self):
        """The 95% t-interval of the mean difference; NaNs with fewer than two seeds."""
        return self.interval_at(0.95)

    @property
    def p_value(self):
        """Two-sided p of the paired t-test (mean difference 0)."""
        if self.n < 2:
            return math.nan
        if self.se == 0:
            return 0.0 if self.mean else 1.0
        return two_sided_p(self.mean / self.se, self.n - 1)

    def first(self, n):
        """The comparison over its first ``n`` seeds in seed order: what it said when only those were trained."""
        if not 1 <= n <= self.n:
            raise ValueError(f"n must be between 1 and the {self.n} seeds compared, got {n}")
        return PairedComparison(self.baseline, self.treatment, self.profile, self.seeds[:n], self.differences[:n])

    @property
    def interval_text(self):
        """The 95% interval as the chapters print it (:func:`format_interval`)."""
        return format_interval(*self.interval)

    def interval_at(self, confidence):
        """The ``confidence`` t-interval of the mean difference; NaNs with fewer than two seeds."""
        if self.n < 2:
            return math.nan, math.nan
        half = t_quantile(0.5 + confidence / 2, self.n - 1) * self.se
        return self.mean - half, self.mean + half

    @property
    def prediction_interval(self):
        """Where one more seed's paired difference falls, 95%: mean +- t * sd * sqrt(1 + 1/n).

        The interval to hold a single run's gap against (the post's), not the interval of the mean."""
        if self.n < 2:
            return math.nan, math.nan
        half = t_quantile(0.975, self.n - 1) * self.sd * math.sqrt(1 + 1 / self.n)
        return self.mean - half, self.mean + half

    def equivalent(self, margin=None):
        """Two one-sided tests at 5%: the 90% interval lies inside +-``margin`` (:data:`MARGIN` by default)."""
        margin = MARGIN if margin is None else margin
        low, high = self.interval_at(0.90)
        return -margin < low and high < margin

    @property
    def verdict(self):
        """One word of :data:`VERDICTS` for this comparison, against :data:`MARGIN`."""
        if self.n < 2:
            return "one seed"
        low, high = self.interval
        if low > 0:
            return "higher"
        if high < 0:
            return "lower"
        return "equivalent" if self.equivalent() else "undecided"


MARGIN = 0.6
"""Points: the book's one decision margin. Gaps smaller than this are treated as no gap. It lies below three of
the post's four single-run gaps (+0.61, -0.80, +0.94) and above the fourth (-0.19), so "equivalent" rules out
gaps the size of those three, not every gap."""

VERDICTS = {
    "higher": "the 95% interval lies above zero",
    "lower": "the 95% interval lies below zero",
    "equivalent": f"the 95% interval holds zero and the 90% interval lies inside ±{MARGIN} points "
                  "(two one-sided tests): no gap as large as the margin",
    "undecided": "the 95% interval holds zero and the 90% interval reaches past the margin",
    "one seed": "one run each: no interval",
}
"""The verdicts of :attr:`PairedComparison.verdict`, each with its one meaning."""


def accuracies_by_seed(records, configuration):
    return {r.seed: r.accuracy for r in records if r.configuration == configuration}


def paired_by_seed(records, baseline, treatment, value):
    """``(seeds, a, b, profiles)``: ``value(record)`` of each configuration by seed, the seeds both have, and the
    profiles their records come from; a configuration with no record is named, with those present."""
    a, b = ({r.seed: value(r) for r in records if r.configuration == c} for c in (baseline, treatment))
    if not a or not b:
        missing = baseline if not a else treatment
        raise ValueError(f"no record of {missing.label!r}; present: {sorted({r.label for r in records})}")
    profiles = {r.profile.name for r in records if r.configuration in (baseline, treatment)}
    return tuple(sorted(a.keys() & b.keys())), a, b, ", ".join(sorted(profiles))


def compare(records, baseline, treatment):
    """The :class:`PairedComparison` of two configurations over the seeds both have."""
    seeds, a, b, profiles = paired_by_seed(records, baseline, treatment, lambda r: r.accuracy)
    return PairedComparison(baseline.label, treatment.label, profiles, seeds, tuple(b[s] - a[s] for s in seeds))


def gap_change(before, after):
    """How one paired gap moved between two settings, seed by seed: ``after``'s difference minus ``before``'s
    (two :class:`PairedComparison` s of the same configurations, e.g. at 16 and at 8 epochs) over the seeds both
    have. Positive: the treatment gained on the baseline."""
    if (before.baseline, before.treatment) != (after.baseline, after.treatment):
        raise ValueError(f"not the same gap: {before.treatment} - {before.baseline} against "
                         f"{after.treatment} - {after.baseline}")
    old, new = dict(zip(before.seeds, before.differences)), dict(zip(after.seeds, after.differences))
    seeds = tuple(s for s in after.seeds if s in old)
    if not seeds:
        raise ValueError("the two gaps share no seed")
    return PairedComparison(f"{after.treatment} - {after.baseline}, {before.profile}",
                            f"{after.treatment} - {after.baseline}, {after.profile}",
                            f"{before.profile}, {after.profile}", seeds, tuple(new[s] - old[s] for s in seeds))


def compare_by_epoch(records, baseline, treatment, field="test_accuracy"):
    """One :class:`PairedComparison` per epoch of an :class:`~cbam_helpers.engine.records.Epoch` ``field``, over
    the seeds both configurations have: accuracies in points (the curve's subset where the profile has one),
    losses in nats. How a final gap built up during training."""
    if field not in ("test_accuracy", "train_accuracy", "test_loss", "train_loss"):
        raise ValueError(f"field must be an accuracy or a loss of an epoch, got {field!r}")
    seeds, a, b, profiles = paired_by_seed(records, baseline, treatment, lambda r: r.history)
    if any(len(a[s]) != len(b[s]) for s in seeds):
        raise ValueError("paired runs have histories of different lengths; compare runs of one profile")
    epochs = min(len(a[s]) for s in seeds) if seeds else 0
    unit = 100 if field.endswith("accuracy") else 1
    return tuple(PairedComparison(baseline.label, treatment.label, profiles, seeds,
                                  tuple(unit * (getattr(b[s][e], field) - getattr(a[s][e], field)) for s in seeds))
                 for e in range(epochs))


def split_gain(records, controlled):
    """A claimed gain and its two parts (a :class:`~cbam_helpers.evidence.experiments.Controlled`): the three
    :class:`~cbam_helpers.evidence.comparisons.PairedComparison` s *whole* (gate - baseline), *share* (control - baseline) and
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
