"""Every table the book shows, built from records in one place, and :func:`show` to display one in words.

The builders return plain DataFrames with short column names (what the CLI prints); :func:`show` gives
them worded headers, two decimals and a caption, within a page's width.
"""
import math

import pandas as pd

from .profiles import FULL
from .report import compare

HEADERS = {
    "configuration": "configuration",
    "reported": "reported by the post (%)",
    "mean_accuracy": "ours: mean (%)",
    "std_accuracy": "SD over seeds",
    "n": "seeds",
    "per_seed": "per seed (%)",
    "source": "source",
    "protocol": "protocol",
    "comparison": "comparison",
    "mean_difference": "mean difference (points)",
    "interval": "95% interval",
    "p": "p",
    "verdict": "verdict",
    "parameters": "parameters",
}
PERCENT_COLUMNS = ("reported", "mean_accuracy", "std_accuracy", "per_seed")


def summary(records):
    """Per configuration, in the order first met: mean and SD of final test accuracy (%) over seeds, n, each seed's."""
    columns = ["configuration", "mean_accuracy", "std_accuracy", "n", "per_seed"]
    order = list(dict.fromkeys(r.configuration for r in records))
    rows = []
    for configuration in order:
        accuracies = [r.accuracy for r in sorted(records, key=lambda r: r.seed) if r.configuration == configuration]
        rows.append(dict(configuration=configuration.label, mean_accuracy=sum(accuracies) / len(accuracies),
                         std_accuracy=pd.Series(accuracies).std() if len(accuracies) > 1 else math.nan,
                         n=len(accuracies), per_seed=", ".join(f"{a:.2f}" for a in accuracies)))
    return pd.DataFrame(rows, columns=columns)


def with_reported(records, reported):
    """:func:`summary` with the accuracy another source reported for each configuration, where it reported one."""
    order = list(dict.fromkeys(r.configuration for r in records))
    table = summary(records)
    table.insert(1, "reported", [reported.get(c, math.nan) for c in order])
    return table


def history_frame(records):
    """All per-epoch rows of ``records`` in one long DataFrame, for learning curves."""
    rows = [dict(epoch=e.epoch, train_loss=e.train_loss, train_accuracy=e.train_accuracy, test_loss=e.test_loss,
                 test_accuracy=e.test_accuracy, lr=e.lr, configuration=r.label, seed=r.seed)
            for r in records for e in r.history]
    return pd.DataFrame(rows)


def protocol(profile):
    """A profile's training protocol in a few words, e.g. ``'112x112, 20 epochs, 50,000 images'``."""
    images = f"{profile.train_images:,}" if profile.train_images else "50,000"
    schedule = ", lr annealed" if profile.schedule != "constant" else ""
    return f"{profile.resolution}x{profile.resolution}, {profile.epochs} epochs, {images} images{schedule}"


def across_profiles(configurations, records_by_profile, reported):
    """One row per configuration and source: the reported single runs, then each profile's recorded seeds.

    ``records_by_profile`` maps a Profile to its records (of complete seeds); a profile without records of
    these configurations has no rows.
    """
    rows = [dict(configuration=c.label, source="reported by the post", protocol=protocol(FULL), n=1,
                 mean_accuracy=reported[c]) for c in configurations if c in reported]
    for profile, records in records_by_profile.items():
        mine = [r for r in records if r.configuration in configurations]
        rows += [dict(row, source=f"{profile.name} profile", protocol=protocol(profile))
                 for row in summary(mine).drop(columns="per_seed").to_dict("records")]
    order = {c.label: i for i, c in enumerate(configurations)}
    table = pd.DataFrame(rows, columns=["configuration", "source", "protocol", "n", "mean_accuracy", "std_accuracy"])
    return table.sort_values("configuration", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def comparison_table(records, pairs):
    """One row per ``(name, baseline, treatment)`` (configurations): seeds, mean paired difference, 95% interval, p, verdict."""
    rows = []
    for name, baseline, treatment in pairs:
        c = compare(records, baseline, treatment)
        low, high = c.interval
        rows.append(dict(comparison=name, n=c.n, mean_difference=c.mean,
                         interval=f"[{low:+.2f}, {high:+.2f}]" if c.n >= 2 else "n/a", p=c.p_value, verdict=c.verdict,
                         ci_low=low, ci_high=high))
    return pd.DataFrame(rows)


def parameters_table(records):
    """Accuracy with each configuration's parameter count."""
    table = summary(records)
    parameters = {r.label: r.parameters for r in records}
    table.insert(1, "parameters", table["configuration"].map(parameters))
    return table


def show(frame, caption, drop=("ci_low", "ci_high")):
    """A table as a reader should see it: worded headers, two decimals, no index, a caption."""
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    formats = {HEADERS.get(c, c): "{:.2f}" for c in PERCENT_COLUMNS if c in frame.columns and c != "per_seed"}
    formats.update({HEADERS["mean_difference"]: "{:+.2f}", HEADERS["p"]: "{:.2f}", HEADERS["parameters"]: "{:,}"})
    frame = frame.rename(columns=HEADERS)
    formats = {k: v for k, v in formats.items() if k in frame.columns}
    return frame.style.format(formats, na_rep="n/a").hide(axis="index").set_caption(caption)

