"""The synthetic speaking-channel task: shapes, determinism, and that the cue is where the generator says."""
import pytest
import torch

from cbam_helpers.synthetic.channel_tasks import (MEAN_CUE, PEAK_CUE, QUICK, SmallNet, Task, against, compare_gates, generate,
                                    speaker_scores, fit)


def test_shapes_and_ranges():
    x, labels, speakers = generate(MEAN_CUE, 32, seed=0)
    assert x.shape == (32, 8, 12, 12) and x.dtype == torch.float32
    assert labels.shape == speakers.shape == (32,)
    assert labels.min() >= 0 and labels.max() < MEAN_CUE.classes
    assert speakers.min() >= 0 and speakers.max() < MEAN_CUE.channels


def test_same_seed_same_inputs_other_seed_other_inputs():
    a, b = generate(PEAK_CUE, 16, seed=3), generate(PEAK_CUE, 16, seed=3)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], generate(PEAK_CUE, 16, seed=4)[0])


def channel_stats(task, n=4000):
    x, _, speakers = generate(task, n, seed=0)
    rows = torch.arange(n)
    means, maxima = x.mean((2, 3)), x.amax((2, 3))
    silent = torch.ones_like(means, dtype=torch.bool)
    silent[rows, speakers] = False
    return means, maxima, rows, speakers, silent


def test_mean_cue_raises_the_speakers_average():
    means, maxima, rows, speakers, silent = channel_stats(MEAN_CUE)
    gap = means[rows, speakers].mean() - means[silent].mean()
    assert gap == pytest.approx(MEAN_CUE.cue_strength, abs=0.02)
    # the speaker has the largest average in nearly every input: average pooling sees it
    assert (means.argmax(1) == speakers).float().mean() > 0.95


def test_peak_cue_leaves_the_average_and_raises_the_maximum():
    means, maxima, rows, speakers, silent = channel_stats(PEAK_CUE)
    assert means[rows, speakers].mean() - means[silent].mean() == pytest.approx(0.0, abs=0.01)
    # averages do not single the speaker out (chance is 1 in 8), maxima nearly always do
    assert (means.argmax(1) == speakers).float().mean() < 0.2
    assert (maxima.argmax(1) == speakers).float().mean() > 0.9


def test_only_the_speaker_carries_the_grating():
    task = MEAN_CUE.but(cue_strength=0.0, grating=5.0)
    x, _, speakers = generate(task, 64, seed=1)
    spread = x.std((2, 3))  # a grating of amplitude 5 over unit noise: std about 3.7 against 1
    assert torch.equal(spread.argmax(1), speakers)
    assert (spread.sort(1).values[:, -2] < 1.5).all()


def test_bad_tasks_are_refused():
    with pytest.raises(ValueError, match="cue"):
        Task(cue="median")
    with pytest.raises(ValueError, match="spikes"):
        Task(cue="peak", spikes=0)


@pytest.mark.parametrize("gate", ["none", "constant", "avg", "max", "both", "scale"])
@pytest.mark.parametrize("place", ["input", "conv"])
def test_network_shapes(gate, place):
    model = SmallNet(MEAN_CUE, gate, place=place)
    x, _, _ = generate(MEAN_CUE, 5, seed=0)
    assert model(x).shape == (5, MEAN_CUE.classes)
    if gate == "none":
        with pytest.raises(ValueError, match="no gate"):
            model.scores(x)
    else:
        channels = MEAN_CUE.channels if place == "input" else 16
        assert model.scores(x).shape == (5, channels)


def test_training_is_deterministic_and_the_comparison_is_paired():
    a = fit(MEAN_CUE, "both", seed=0, setting=QUICK)
    b = fit(MEAN_CUE, "both", seed=0, setting=QUICK)
    assert a["accuracy"] == b["accuracy"]
    frame = compare_gates(MEAN_CUE, ("none", "both"), seeds=(0, 1), setting=QUICK, progress=False)
    assert list(frame.columns) == ["gate", "seed", "accuracy"] and len(frame) == 4
    comparison = against(frame)["both"]
    table = frame.pivot(index="seed", columns="gate", values="accuracy")
    assert comparison.differences == pytest.approx(tuple(table["both"] - table["none"]))


def test_speaker_scores_pick_out_the_speaking_channel():
    model = SmallNet(MEAN_CUE, "both")
    result = speaker_scores(model, MEAN_CUE, n=8)
    rows = torch.arange(8)
    assert torch.equal(result["speaking"], result["scores"][rows, result["speakers"]])
    by_hand = (result["scores"].sum(1) - result["speaking"]) / 7
    assert torch.allclose(result["silent"], by_hand)


def fake_results():
    import pandas as pd

    rows = []
    for seed, (none, constant, avg, mx, both) in enumerate([(40, 41, 70, 45, 60), (42, 41, 74, 47, 66), (44, 45, 72, 46, 61)]):
        rows += [dict(gate=g, seed=seed, accuracy=a) for g, a in
                 zip(("none", "constant", "avg", "max", "both"), (none, constant, avg, mx, both))]
    return pd.DataFrame(rows)


def test_prediction_table_checks_the_measurement_against_the_prediction():
    from cbam_helpers.synthetic.channel_tasks import prediction_table, versus_specialist

    frame = fake_results()
    table = prediction_table({"mean": against(frame)}).set_index("front end")
    # avg - none per seed: 30, 32, 28 -> +30.0, interval excludes zero -> helps, as predicted
    assert table.loc["avg", "gap (points)"] == "+30.0" and table.loc["avg", "measured"] == "helps"
    assert table.loc["avg", "as predicted"] == "yes"
    # constant - none: +1, -1, +1 -> undecided, consistent with "cannot help"
    assert table.loc["constant", "measured"] == "undecided" and table.loc["constant", "as predicted"] == "yes"
    assert table.loc["max", "predicted"] == "open" and table.loc["max", "as predicted"] == "-"
    # both - avg: -10, -8, -11 -> CBAM lower
    versus = versus_specialist({"mean": frame})
    assert versus.loc[0, "gap (points)"] == "-9.7" and versus.loc[0, "measured"] == "CBAM lower"
