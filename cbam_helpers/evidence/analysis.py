"""How precise a comparison of two configurations can be: test-set sampling error, seeds needed, a pooled error term.

Three ideas the experiment chapters rest on:

* **Test-set sampling error.** A network scored on ``n`` test images has its accuracy measured with binomial
  noise ``sqrt(a (1 - a) / n)``: how far the number may be from the network's accuracy on all images like
  these. It is not a floor for the seed spread: every run here is scored on the same fixed test set, so the
  seed-to-seed spread (and every interval built from it) is conditional on that set, and can fall below it.
  The sampling error of a *difference* on a shared test set depends on how often the two networks disagree,
  ``sqrt(d / n)`` at most for a fraction ``d`` of images on which exactly one is right.
* **Seeds needed.** The 95% interval of a mean difference over ``n`` seeds has half-width
  ``t(0.975, df) * sd_difference / sqrt(n)``; :func:`seeds_needed` finds the smallest ``n`` that brings it
  under a target, for the paired analysis (``df = n - 1``) or the pooled one (``df = (k - 1)(n - 1)``).
* **A pooled error term.** With ``k`` configurations each run at the same ``n`` seeds, the additive
  two-way layout ``accuracy = configuration + seed + error`` estimates one error variance from all
  ``k x n`` runs, with ``(k - 1)(n - 1)`` degrees of freedom instead of ``n - 1`` per comparison. Where seeds
  explain little of the variance, pairing buys little and the pooled term is the sharper tool.
"""
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cbam_helpers.evidence.comparisons import interval_half_width, t_quantile


def sampling_error(accuracy, test_images=10_000):
    """Binomial standard error, in points, of an accuracy (a fraction or %) measured on ``test_images`` images."""
    a = accuracy / 100 if accuracy > 1 else accuracy
    return 100 * math.sqrt(a * (1 - a) / test_images)


def seeds_needed(sd_difference, half_width=0.5, configurations=None, confidence=0.95, most=1000):
    """The fewest seeds whose interval of a mean difference is at most ``half_width`` points wide on each side.

    ``sd_difference`` is the standard deviation of one seed's difference between two configurations
    (``sqrt(2) * sd`` for independent runs of spread ``sd``; less where same-seed runs correlate).
    With ``configurations=k`` the degrees of freedom are the pooled layout's ``(k - 1)(n - 1)``, else the
    paired ``n - 1``. Raises when even ``most`` seeds would not do.
    """
    if sd_difference < 0 or half_width <= 0:
        raise ValueError(f"need sd_difference >= 0 and half_width > 0, got {sd_difference}, {half_width}")
    for n in range(2, most + 1):
        df = n - 1 if configurations is None else (configurations - 1) * (n - 1)
        if interval_half_width(sd_difference, n, df, confidence) <= half_width:
            return n
    raise ValueError(f"more than {most} seeds would be needed for +-{half_width} at sd_difference {sd_difference}")


def seeds_for(sd_difference, half_width=0.5):
    """:func:`seeds_needed` (paired), or infinity where even a thousand seeds would not do."""
    try:
        return seeds_needed(sd_difference, half_width)
    except ValueError:
        return math.inf


def accuracy_table(records, configurations=None):
    """Accuracy in %, one row per seed and one column per configuration (headed by its label), complete seeds only."""
    wanted = list(dict.fromkeys(r.configuration for r in records)) if configurations is None else list(configurations)
    frame = pd.DataFrame(dict(label=r.label, seed=r.seed, accuracy=r.accuracy)
                         for r in records if r.configuration in wanted)
    table = frame.pivot(index="seed", columns="label", values="accuracy")
    return table[[c.label for c in wanted if c.label in table.columns]].dropna()


@dataclass(frozen=True)
class TwoWay:
    """The additive two-way layout of a seeds x configurations table of accuracies."""

    table: pd.DataFrame

    @property
    def seeds(self):
        return len(self.table)

    @property
    def configurations(self):
        return self.table.shape[1]

    @property
    def residuals(self):
        t = self.table
        return t.sub(t.mean(axis=1), axis=0).sub(t.mean(axis=0), axis=1) + t.to_numpy().mean()

    @property
    def df_error(self):
        return (self.seeds - 1) * (self.configurations - 1)

    @property
    def error_variance(self):
        """Mean square of the residuals: the run-to-run variance once configuration and seed are removed."""
        return float((self.residuals ** 2).to_numpy().sum() / self.df_error)

    @property
    def seed_variance_share(self):
        """Share of the total sum of squares that the seed explains."""
        t = self.table
        grand = t.to_numpy().mean()
        seed_ss = self.configurations * float(((t.mean(axis=1) - grand) ** 2).sum())
        total_ss = float(((t - grand) ** 2).to_numpy().sum())
        return seed_ss / total_ss if total_ss else math.nan

    @property
    def seed_correlation(self):
        """Intraclass correlation of same-seed runs: how much of a run's deviation its seed shares with the others."""
        t = self.table
        ms_seed = self.configurations * float(t.mean(axis=1).var(ddof=1))
        ms_error = self.error_variance
        return (ms_seed - ms_error) / (ms_seed + (self.configurations - 1) * ms_error)

    def difference(self, baseline, treatment, confidence=0.95):
        """``treatment - baseline`` (configurations): mean, and its interval with the pooled error term."""
        mean = float((self.table[treatment.label] - self.table[baseline.label]).mean())
        se = math.sqrt(2 * self.error_variance / self.seeds)
        half = t_quantile(0.5 + confidence / 2, self.df_error) * se
        return mean, (mean - half, mean + half)


def two_way(records, configurations=None):
    """:class:`TwoWay` of ``configurations`` (all in ``records`` by default) over the seeds that have a record of each."""
    table = accuracy_table(records, configurations)
    if table.shape[1] < 2 or len(table) < 2:
        raise ValueError(f"a two-way layout needs at least two configurations and two seeds; got {table.shape}")
    return TwoWay(table)


def stopping_rules(sd_difference, half_width=0.6, first=3, most=12, trials=20_000, seed=0):
    """What adding seeds one at a time does to a 95% interval, by simulation: ``trials`` studies of a true gap of
    zero whose paired differences are normal with SD ``sd_difference``, each looking after every seed from
    ``first`` to ``most``.

    Three rules: a fixed number of seeds planned before (:func:`seeds_needed`), stopping at the first look whose
    p-value is below 0.05, and stopping at the first look whose interval is at most ``half_width`` wide on each
    side (the book's). Each row gives the seeds the rule used on average, the share of studies that end calling a
    gap (their interval excludes zero, which here is always wrong), and the share whose interval holds the true gap.
    """
    rng = np.random.default_rng(seed)
    differences = rng.normal(0.0, sd_difference, (trials, most))
    n = np.arange(1, most + 1)
    mean = differences.cumsum(axis=1) / n
    with np.errstate(invalid="ignore", divide="ignore"):  # one seed has no spread
        sd = np.sqrt(((differences ** 2).cumsum(axis=1) - n * mean ** 2) / (n - 1))
        half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    excludes_zero = np.abs(mean) > half  # p < 0.05 exactly when the 95% interval excludes zero
    looks = n >= first
    planned = min(max(seeds_needed(sd_difference, half_width), first), most)
    stops = {"fixed, planned before any run": np.full(trials, planned - 1),
             "stop at the first p < 0.05": first_or_last(excludes_zero & looks),
             f"stop at the first interval of at most ±{half_width:g}": first_or_last((half <= half_width) & looks)}
    rows = {}
    for rule, stop in stops.items():
        called = excludes_zero[np.arange(trials), stop]
        rows[rule] = {"seeds used (mean)": float(stop.mean() + 1), "share calling a gap that is not there":
                      float(called.mean()), "share of intervals holding the true gap": float(1 - called.mean())}
    return pd.DataFrame(rows).T


def first_or_last(hits):
    """Per row, the index of the first True; the last index where a row has none."""
    return np.where(hits.any(axis=1), hits.argmax(axis=1), hits.shape[1] - 1)


def epoch_closed(record, threshold=0.1):
    """The first epoch from which the gate scored every extra channel below ``threshold`` in every later epoch too;
    ``None`` when it never did (or the run recorded no scores)."""
    closed, extra = None, record.configuration.inputs.extra
    for epoch in record.history:
        if epoch.attention is None or max(epoch.attention[extra]) >= threshold:
            closed = None
        elif closed is None:
            closed = epoch.epoch
    return closed
