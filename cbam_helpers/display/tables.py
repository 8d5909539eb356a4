"""Every table the book shows, built from records in one place, :func:`show` to display one in words, and the
provenance line under a chapter's evidence.

The builders return plain DataFrames with short column names (what the CLI prints); :func:`show` gives
them worded headers, two decimals and a caption, within a page's width. The argument of a chapter is written in
the chapter.
"""
import math
import re
import statistics

import pandas as pd

from cbam_helpers.evidence.analysis import sampling_error, seeds_for
from cbam_helpers.engine.profiles import FULL
from cbam_helpers.engine.records import select
from cbam_helpers.evidence.comparisons import compare, format_interval
from cbam_helpers.language import language, text
from cbam_helpers.language.frames import word, worded

HEADERS = {
    "configuration": "configuration",
    "reported": "reported by the post (%)",
    "mean_accuracy": "ours: mean (%)",
    "accuracy": "mean accuracy (%)",
    "std_accuracy": "SD over seeds",
    "n": "seeds",
    "per_seed": "per seed (%)",
    "source": "source",
    "protocol": "protocol",
    "comparison": "comparison",
    "mean_difference": "mean gap",
    "interval": "95% interval",
    "sampling_error": "test-set sampling error",
    "p": "p",
    "verdict": "verdict",
    "expected": "the post says",
    "prediction_interval": "95% prediction, one seed",
    "reported_inside": "post's gap in prediction",
    "parameters": "parameters",
    "reported_gap": "post's gap",
    "seeds_needed": "seeds needed",
    "profile": "profile",
    "runs": "runs",
    "last_epoch": "last epoch moved (points)",
}
PERCENT_COLUMNS = ("reported", "mean_accuracy", "accuracy", "std_accuracy", "sampling_error", "per_seed")


def seed_span(seeds):
    """Which seeds, as a reader reads them: ``'0-4'`` for a run of consecutive seeds, else ``'0, 2, 5'``."""
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def with_seed_spans(table, records):
    """``table`` (one row per configuration label) with its count of seeds replaced by which seeds they are."""
    spans = {label: seed_span(r.seed for r in records if r.label == label) for label in table["configuration"]}
    return table.assign(n=table["configuration"].map(spans))


def summary(records):
    """Per configuration, in the order first met: mean and SD of final test accuracy (%) over seeds, the test-set
    test-set sampling error at that mean (the binomial standard error on the profile's test images), n, and each seed's accuracy."""
    columns = ["configuration", "mean_accuracy", "std_accuracy", "sampling_error", "n", "per_seed"]
    order = list(dict.fromkeys(r.configuration for r in records))
    rows = []
    for configuration in order:
        runs = select(records, configuration)
        accuracies = [r.accuracy for r in runs]
        mean = sum(accuracies) / len(accuracies)
        rows.append(dict(configuration=configuration.label, mean_accuracy=mean,
                         std_accuracy=pd.Series(accuracies).std() if len(accuracies) > 1 else math.nan,
                         sampling_error=sampling_error(mean, runs[0].profile.test_images or 10_000), n=len(accuracies),
                         per_seed=", ".join(f"{a:.2f}" for a in accuracies)))
    return pd.DataFrame(rows, columns=columns)


def attention_per_seed(records, configuration, reported=None):
    """The gate's mean score per input channel, one row per seed, then the mean over seeds and what was reported."""
    runs = select(records, configuration)
    names = configuration.inputs.channel_names
    table = pd.DataFrame([r.attention for r in runs], columns=names, index=[f"seed {r.seed}" for r in runs])
    table.loc["mean over seeds"] = table.mean()
    if reported is not None:
        table.loc["reported by the post"] = reported
    return table


def stem_ratio_table(records):
    """Stem weight norm on the extra channels over RGB, after the first and the last epoch, per run that recorded it."""
    rows = []
    for r in sorted(records, key=lambda r: (r.label, r.seed)):
        extra = r.configuration.inputs.extra_channels
        norms = [e.stem_norm for e in r.history]
        if not extra or any(n is None for n in norms):
            continue
        inputs = r.configuration.inputs
        ratio = [sum(n[inputs.extra]) / extra / (sum(n[inputs.rgb]) / 3) for n in norms]
        rows.append({"configuration": r.label, "seed": r.seed, "after epoch 1": ratio[0],
                     f"after epoch {len(ratio)}": ratio[-1]})
    return pd.DataFrame(rows)


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
    """One row per configuration and source: the reported single runs, then each profile's recorded seeds
    (``accuracy``: the mean over them).

    ``records_by_profile`` maps a Profile to its records (of complete seeds); a profile without records of
    these configurations has no rows.
    """
    rows = [dict(configuration=c.label, source="reported by the post", protocol=protocol(FULL),
                 n=text("one run", "一次运行"),
                 mean_accuracy=reported[c], sampling_error=sampling_error(reported[c])) for c in configurations if c in reported]
    for profile, records in records_by_profile.items():
        mine = [r for r in records if r.configuration in configurations]
        rows += [dict(row, source=f"{profile.name} profile", protocol=protocol(profile))
                 for row in with_seed_spans(summary(mine), mine).drop(columns="per_seed").to_dict("records")]
    order = {c.label: i for i, c in enumerate(configurations)}
    table = pd.DataFrame(rows, columns=["configuration", "source", "protocol", "n", "mean_accuracy", "std_accuracy",
                                        "sampling_error"]).rename(columns={"mean_accuracy": "accuracy"})
    return table.sort_values("configuration", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def seed_noise(records_by_profile):
    """Per profile, how noisy one run's final accuracy is: the seed-to-seed SD within a configuration (pooled over
    the configurations with two or more seeds) beside the test-set sampling error, and how far the last epoch still moved.

    The SD is what a comparison's interval is made of; the last-epoch move says whether a run ended where the
    network converged (an annealed run) or wherever its last epoch left it (a constant learning rate).
    """
    rows = []
    for profile, records in records_by_profile.items():
        groups = [[r.accuracy for r in select(records, c)] for c in dict.fromkeys(r.configuration for r in records)]
        groups = [g for g in groups if len(g) >= 2]
        if not groups:
            continue
        df = sum(len(g) - 1 for g in groups)
        pooled_sd = math.sqrt(sum((len(g) - 1) * pd.Series(g).var() for g in groups) / df)
        mean = sum(r.accuracy for r in records) / len(records)
        moves = pd.Series([r.last_epoch_change for r in records]).dropna()
        rows.append(dict(profile=profile.name, protocol=protocol(profile), runs=len(records), std_accuracy=pooled_sd,
                         sampling_error=sampling_error(mean, profile.test_images or 10_000),
                         last_epoch=text(f"{moves.min():+.2f} to {moves.max():+.2f}",
                                         f"{moves.min():+.2f} 到 {moves.max():+.2f}")
                         if len(moves) else text("n/a", "不适用")))
    return pd.DataFrame(rows, columns=["profile", "protocol", "runs", "std_accuracy", "sampling_error", "last_epoch"])


def comparison_table(records, pairs, target=None, reported=None):
    """One row per ``(name, baseline, treatment)`` (configurations): seeds, mean paired difference, 95% interval, p
    and the verdict (:data:`~cbam_helpers.evidence.comparisons.VERDICTS`).

    A pair that names the side it expects (an :class:`~cbam_helpers.evidence.experiments.Claim`) keeps it as ``expected``.
    With ``reported`` (accuracies by configuration), the gap that source reported from one run of each, and the 95%
    prediction interval of one seed's difference, the interval a single run's gap is held against.

    With ``target`` (points), a column of the seeds a paired interval of +-``target`` would need at the measured
    spread of the differences.
    """
    rows = []
    for pair in pairs:
        name, baseline, treatment = pair[:3]
        c = compare(records, baseline, treatment)
        low, high = c.interval
        row = dict(comparison=name, n=c.n, mean_difference=c.mean,
                   interval=c.interval_text if c.n >= 2 else "n/a", p=c.p_value, verdict=c.verdict,
                   ci_low=low, ci_high=high)
        expected = getattr(pair, "expected", None)
        if expected is not None:
            row = {"comparison": name, "expected": expected, **row}
        if reported is not None:
            gap = reported[treatment] - reported[baseline]
            row = {"comparison": name, **row, "reported_gap": gap}
            if c.n >= 2:
                plow, phigh = c.prediction_interval
                row["prediction_interval"] = format_interval(plow, phigh)
                row["reported_inside"] = "yes" if plow <= gap <= phigh else "no"
        if target is not None:
            row["seeds_needed"] = seeds_for(c.sd, target) if c.n >= 2 else math.nan
            row["target"] = target
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_history(records, claims, first=3):
    """What each claim's paired comparison said after its first ``first``, ``first`` + 1, ... seeds in seed order,
    the order the book trained them: one row per claim and seed count, with the mean difference, the 95% interval
    and the verdict (:data:`~cbam_helpers.evidence.comparisons.VERDICTS`). It starts at three seeds by default: two give one
    degree of freedom, an interval too wide or too narrow by chance to replay."""
    if first < 2:
        raise ValueError(f"an interval needs two seeds; first={first}")
    rows = []
    for claim in claims:
        comparison = compare(records, claim.baseline, claim.treatment)
        for n in range(first, comparison.n + 1):
            c = comparison.first(n)
            low, high = c.interval
            rows.append(dict(comparison=claim.name, n=n, mean_difference=c.mean, ci_low=low, ci_high=high,
                             interval=c.interval_text, verdict=c.verdict))
    return pd.DataFrame(rows, columns=["comparison", "n", "mean_difference", "ci_low", "ci_high", "interval",
                                       "verdict"])


def parameters_table(records):
    """Accuracy with each configuration's parameter count, and which seeds each has."""
    table = with_seed_spans(summary(records), records)
    parameters = {r.label: r.parameters for r in records}
    table.insert(1, "parameters", table["configuration"].map(parameters))
    return table


def show(frame, caption, drop=("ci_low", "ci_high", "per_seed", "p")):
    """A table as a reader should see it: worded headers, two decimals, no index, a caption, within a page's width.

    ``drop`` leaves out columns a reader rarely needs on the page (every seed's accuracy is in the records, and
    the paired figure shows every seed's difference); pass ``drop=()`` to keep them all.
    """
    headers = dict(HEADERS)
    if "target" in frame.columns:  # the seeds column of a comparison table is headed by the width it aims at
        target = frame["target"].iloc[0]
        headers["seeds_needed"] = text(f"seeds for ±{target:g}", f"±{target:g} 所需种子数")
        frame = frame.drop(columns="target")
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    formats = {HEADERS.get(c, c): "{:.2f}" for c in PERCENT_COLUMNS if c in frame.columns and c != "per_seed"}
    formats.update({HEADERS["mean_difference"]: "{:+.2f}", HEADERS["p"]: "{:.2f}", HEADERS["parameters"]: "{:,}",
                    HEADERS["reported_gap"]: "{:+.2f}", headers["seeds_needed"]: "{:.0f}"})
    formats.update({c: "{:.2f}" for c in frame.columns if c.startswith(("after epoch", "reported by the"))
                    and c not in HEADERS})
    frame = frame.rename(columns=headers)
    formats = {k: v for k, v in formats.items() if k in frame.columns}
    unbroken = [HEADERS[c] for c in ("interval", "prediction_interval", "per_seed") if HEADERS[c] in frame.columns]
    if language() == "zh":  # headers and worded cells (verdicts) in its words; numbers and labels as they are
        frame = worded(frame)
        formats = {word(k): v for k, v in formats.items()}
        unbroken = [word(c) for c in unbroken]
    # spacing and type size come from the book's stylesheet (_static/tables.css)
    return (frame.style.format(formats, na_rep="n/a", precision=2).hide(axis="index").set_caption(caption)
            .set_properties(subset=unbroken, **{"white-space": "nowrap"}))


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
    plural = "s" if profile.epochs > 1 else ""
    seed_list = seed_span(seeds)
    return text(
        f"**Provenance.** {len(records)} run records of the `{profile.name}` profile "
        f"({profile.resolution}x{profile.resolution} input, batch {profile.batch_size}, "
        f"lr {profile.lr}, {profile.epochs} epoch{plural}, {subset} training "
        f"and {tests} test images), seed{'s' if len(seeds) > 1 else ''} {seed_list}; trained on "
        f"{', '.join(devices)} with torch {', '.join(torches)}, {minutes:.0f} minutes of training in all, "
        f"last finished {finished}; data: {', '.join(data)}.",
        f"**来源。** `{profile.name}` 配置的 {len(records)} 条运行记录"
        f"（{profile.resolution}x{profile.resolution} 输入，批量 {profile.batch_size}，学习率 {profile.lr}，"
        f"{profile.epochs} 个 epoch，训练图像 {zh_count(subset)}，测试图像 {zh_count(tests)}），种子 {seed_list}；"
        f"在 {'、'.join(map(zh_device, devices))} 上用 torch {'、'.join(torches)} 训练，训练共 {minutes:.0f} 分钟，"
        f"最后一次完成于 {finished}；数据：{'、'.join(map(zh_data, data))}。")


def zh_device(device):
    """A record's device in Chinese: ``'cpu (1 thread)'`` -> ``'cpu（1 个线程）'``."""
    return re.sub(r" \((\d+) threads?\)", r"（\1 个线程）", device)


def zh_data(source):
    """A record's data source in Chinese: the offline archive is a 压缩包."""
    return source.replace("CIFAR-10 archive ", "CIFAR-10 压缩包 ")


def zh_count(count):
    return "全部" if count == "all" else f"{count} 张"


def extra_channel_scores(records):
    """The input gate's mean score on the extra channels, per run: rho (0 is pure noise), seed, score, accuracy."""
    gated = [r for r in records if r.configuration.attention_loc == "first" and r.configuration.inputs.extra_channels
             and r.configuration.gate == "cbam"]
    return pd.DataFrame([dict(rho=r.configuration.inputs.signal, seed=r.seed, score=statistics.mean(r.attention[r.configuration.inputs.extra]),
                              accuracy=r.accuracy) for r in gated], columns=["rho", "seed", "score", "accuracy"])
