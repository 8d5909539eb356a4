"""Sentences for the chapters, computed from run records so that no number in the prose is typed."""
import math


def provenance(records):
    """Which profile, device, data and software produced ``records``."""
    profile = records[0]["config"]["profile"]
    devices = sorted({r["device"] for r in records})
    data = sorted({r["data"] for r in records})
    seeds = sorted({r["config"]["seed"] for r in records})
    minutes = sum(r["wall_seconds"] for r in records) / 60
    subset = "all" if profile["train_images"] is None else f"{profile['train_images']:,}"
    tests = "all" if profile["test_images"] is None else f"{profile['test_images']:,}"
    finished = max(r["finished"] for r in records)[:10]
    return (
        f"**Provenance.** {len(records)} run records of the `{profile['name']}` profile "
        f"({profile['resolution']}x{profile['resolution']} input, batch {profile['batch_size']}, "
        f"lr {profile['lr']}, {profile['epochs']} epochs, {subset} training and {tests} test images), "
        f"seeds {', '.join(map(str, seeds))}; trained on {', '.join(devices)} with torch "
        f"{records[0]['torch']}, {minutes:.0f} minutes of training in all, last finished {finished}; "
        f"data: {', '.join(data)}."
    )


def gap_statement(table, baseline, treatment):
    """Whether the accuracy gap between two configurations exceeds the spread between seeds."""
    rows = table.set_index("configuration")
    gap = round(rows.loc[treatment, "mean_accuracy"] - rows.loc[baseline, "mean_accuracy"], 2) + 0.0  # no "-0.00"
    spread = max(rows.loc[baseline, "std_accuracy"], rows.loc[treatment, "std_accuracy"])
    n = int(min(rows.loc[baseline, "n"], rows.loc[treatment, "n"]))
    text = f"`{treatment}` scores {gap:+.2f} points against `{baseline}`"
    if n < 2 or math.isnan(spread):
        return (f"{text}, from {n} seed per configuration: with one seed the spread between seeds is "
                f"unmeasured, so this gap cannot be told apart from seed noise. "
                f"`python -m cbam_helpers reproduce --seeds 0 1 2` adds the seeds that measure it.")
    verdict = "exceeds" if abs(gap) > 2 * spread else "does not exceed"
    return (f"{text}, over {n} seeds per configuration; the larger standard deviation between seeds is "
            f"{spread:.2f} points, and the gap {verdict} twice that.")
