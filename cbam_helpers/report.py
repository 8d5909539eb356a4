"""Machinery the chapters share, computed from run records: the provenance line, and the input gate's scores on
the extra channels as a table (for :func:`~cbam_helpers.plots.scores_against_signal`). The argument of a chapter
is written in the chapter."""
import statistics

import pandas as pd


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


def extra_channel_scores(records):
    """The input gate's mean score on the extra channels, per run: rho (0 is pure noise), seed, score, accuracy."""
    gated = [r for r in records if r.configuration.attention_loc == "first" and r.configuration.inputs.extra_channels
             and r.configuration.gate == "cbam"]
    return pd.DataFrame([dict(rho=r.configuration.inputs.signal, seed=r.seed, score=statistics.mean(r.attention[3:]),
                              accuracy=r.accuracy) for r in gated], columns=["rho", "seed", "score", "accuracy"])
