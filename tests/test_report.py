import pandas as pd

from cbam_helpers.experiments import POST_ACCURACY, compare_with_post
from cbam_helpers.report import gap_statement, provenance


def record(label, loc, seed, accuracy, data="CIFAR-10 archive cifar10-jpeg.tar.gz"):
    profile = dict(name="cpu", resolution=64, batch_size=32, lr=0.01, epochs=6, train_images=20_000,
                   test_images=None, momentum=0.9)
    return dict(label=label, test_accuracy=accuracy, data=data, device="cpu (2 threads)", torch="2.x",
                wall_seconds=600.0, finished="2026-11-24T20:00:00+0000",
                config=dict(attention_loc=loc, noise_channels=0, seed=seed, reduction_ratio=1.0, profile=profile))


def table(rows):
    return pd.DataFrame(rows, columns=["configuration", "mean_accuracy", "std_accuracy", "n"])


def test_gap_with_one_seed_is_called_unmeasured():
    text = gap_statement(table([("a", 60.0, float("nan"), 1), ("b", 61.5, float("nan"), 1)]), "a", "b")
    assert "+1.50 points" in text and "unmeasured" in text


def test_gap_against_twice_the_spread():
    # gap 1.5, larger std 0.5: 1.5 > 2 * 0.5
    assert "exceeds twice" in gap_statement(table([("a", 60.0, 0.5, 3), ("b", 61.5, 0.2, 3)]), "a", "b")
    # gap -1.0, larger std 0.6: 1.0 < 2 * 0.6
    assert "does not exceed" in gap_statement(table([("a", 60.0, 0.6, 3), ("b", 59.0, 0.1, 3)]), "a", "b")


def test_compare_with_post():
    records = [record("none, RGB", "none", 0, 0.60), record("none, RGB", "none", 1, 0.62),
               record("last, RGB", "last", 0, 0.63)]
    frame = compare_with_post(records).set_index("configuration")
    assert frame.loc["none, RGB", "post_reported"] == POST_ACCURACY["none, RGB"] == 84.53
    assert frame.loc["none, RGB", "mean_accuracy"] == 61.0 and frame.loc["none, RGB", "n"] == 2
    assert frame.loc["last, RGB", "data"] == "archive cifar10-jpeg.tar.gz"
    assert frame.loc["last, RGB", "profile"] == "cpu"


def test_provenance_names_profile_seeds_device_and_data():
    text = provenance([record("none, RGB", "none", 0, 0.6), record("none, RGB", "none", 1, 0.6)])
    for words in ("`cpu` profile", "64x64", "20,000 training", "all test images", "seeds 0, 1",
                  "cpu (2 threads)", "20 minutes", "cifar10-jpeg.tar.gz"):
        assert words in text


def test_a_vanishing_gap_has_no_minus_sign():
    text = gap_statement(table([("a", 60.004, 0.5, 2), ("b", 60.0, 0.5, 2)]), "a", "b")
    assert "+0.00 points" in text
