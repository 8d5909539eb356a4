"""Two configurations compared on their per-seed paired differences, and what a claim about the gap may say.

Runs with the same seed share the backbone's initialisation and the order of the data (``RunConfig.build_model``
seeds before building), so the difference seed by seed removes most of what the seed changes. A comparison gives
the mean difference, its standard error and a 95% t-interval with n - 1 degrees of freedom; :func:`claim_verdict`
reads a claim off that interval.
"""
import math
from dataclasses import dataclass

from scipy import stats


def t_quantile(p, df):
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(p, df))


def two_sided_p(t, df):
    """Two-sided p of a t statistic with ``df`` degrees of freedom."""
    return float(2 * stats.t.sf(abs(t), df))


def interval_text(low, high):
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
        return t_quantile(0.975, self.n - 1) * self.se if self.n >= 2 else math.nan

    @property
    def interval(self):
        """The 95% t-interval of the mean difference; NaNs with fewer than two seeds."""
        return self.mean - self.half_width, self.mean + self.half_width

    @property
    def interval_text(self):
        """The interval as the chapters print it (:func:`interval_text`)."""
        return interval_text(*self.interval)

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
    def verdict(self):
        """``'better'``, ``'worse'``, ``'undecided'`` (the interval holds zero) or ``'one seed'``."""
        if self.n < 2:
            return "one seed"
        low, high = self.interval
        return "better" if low > 0 else "worse" if high < 0 else "undecided"


DECISIVE_HALF_WIDTH = 0.6
"""Points: an interval at most this wide on each side is narrow enough to bound an effect of the size the post
reports (0.6 to 0.9 points), so that a claim it does not support is bounded rather than left undecided."""


def claim_verdict(comparison, expected, margin=DECISIVE_HALF_WIDTH):
    """What a :class:`PairedComparison` says of a claim that its gap is ``"higher"``, ``"lower"`` or ``"equal"`` (zero).

    * ``supported``: the 95% interval excludes zero on the claimed side (for ``"equal"``: it holds zero and lies
      within +-``margin``, so any gap is smaller than that);
    * ``contradicted``: it excludes zero on the other side (for ``"equal"``: on either side);
    * ``bounded``: it holds zero and its half-width is at most ``margin``: no effect is found, and one larger than
      the interval's far end is ruled out;
    * ``undecided``: it holds zero and is wider than that; ``one seed``: no interval at all.
    """
    if expected not in ("higher", "lower", "equal"):
        raise ValueError(f"expected must be 'higher', 'lower' or 'equal', got {expected!r}")
    if comparison.n < 2:
        return "one seed"
    low, high = comparison.interval
    if expected == "equal":
        if low > 0 or high < 0:
            return "contradicted"
        return "supported" if max(-low, high) <= margin else "undecided"
    claimed_side, other_side = (low > 0, high < 0) if expected == "higher" else (high < 0, low > 0)
    if claimed_side:
        return "supported"
    if other_side:
        return "contradicted"
    return "bounded" if comparison.half_width <= margin else "undecided"


def accuracies_by_seed(records, configuration):
    return {r.seed: r.accuracy for r in records if r.configuration == configuration}


def compare(records, baseline, treatment):
    """The :class:`PairedComparison` of two configurations over the seeds both have."""
    a, b = accuracies_by_seed(records, baseline), accuracies_by_seed(records, treatment)
    if not a or not b:
        missing = baseline if not a else treatment
        raise ValueError(f"no record of {missing.label!r}; present: {sorted({r.label for r in records})}")
    seeds = tuple(sorted(a.keys() & b.keys()))
    profiles = {r.profile.name for r in records if r.configuration in (baseline, treatment)}
    return PairedComparison(baseline.label, treatment.label, ", ".join(sorted(profiles)), seeds,
                            tuple(b[s] - a[s] for s in seeds))
