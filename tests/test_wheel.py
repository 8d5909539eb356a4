"""The book as a Colab or pip reader gets it: the wheel, installed outside the checkout, with no data."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cbam_helpers.evidence.experiments import EXPERIMENTS
from cbam_helpers.engine.records import Record, read_record

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "results").glob("cpu/*.json"))

CHECK = """
import json, sys
from pathlib import Path
import cbam_helpers
from cbam_helpers.evidence import experiments
assert Path(cbam_helpers.__file__).is_relative_to(Path(sys.argv[1])), cbam_helpers.__file__
records = {r.run_id: r.to_json() for n in (1, 2) for r in experiments.run_experiment(n, "cpu", None)}
print(json.dumps(records))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-build-isolation",
                            "-w", tmp / "dist", ROOT], check=True, capture_output=True, text=True)
    # every shipped records folder is declared, so setuptools has nothing to warn about
    assert "is absent from the `packages` configuration" not in build.stdout + build.stderr
    wheel = next((tmp / "dist").glob("cbam_helpers-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", tmp / "site", wheel],
                   check=True, capture_output=True)
    workdir = tmp / "reader"
    (workdir / "no-data").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBAM_")}
    env.update(PYTHONPATH=str(tmp / "site"), CBAM_DATA=str(workdir / "no-data"), CBAM_CACHE=str(workdir / "cache"),
               MPLBACKEND="agg")
    return tmp / "site", workdir, env


def test_wheel_reads_the_committed_records_without_data(installed):
    site, workdir, env = installed
    out = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=workdir, env=env, check=True,
                         capture_output=True, text=True).stdout
    records = {k: Record.from_json(r) for k, r in json.loads(out.strip().splitlines()[-1]).items()}
    committed = {p.stem: read_record(p) for p in COMMITTED}
    wanted = {k for k, r in committed.items() if r.configuration in EXPERIMENTS[1] + EXPERIMENTS[2]}
    assert len(wanted) == 12 and set(records) == wanted and all(records[k] == committed[k] for k in wanted)
    assert not (workdir / "results").exists() and not (workdir / "cache").exists()  # nothing trained or loaded


def test_chapter_4_runs_from_the_wheel_without_training(installed):
    site, workdir, env = installed
    chapter = workdir / "04_experiment_last.ipynb"
    chapter.write_text((ROOT / "book" / "04_experiment_last.ipynb").read_text())
    subprocess.run([Path(sys.executable).with_name("jupyter-execute"), "--inplace", "--timeout=600", chapter.name],
                   cwd=workdir, env=dict(env, CBAM_PROFILE="cpu"), check=True, capture_output=True)
    outputs = [o for c in json.loads(chapter.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert "Provenance." in json.dumps(outputs) and "nothing trains" in json.dumps(outputs)
    assert not (workdir / "results").exists() and not (workdir / "cache").exists()


def test_wheel_ships_every_profile_and_the_pilot(installed):
    site, _, _ = installed
    shipped = site / "cbam_helpers" / "results"
    for folder in ("cpu", "annealed", "pilot/annealed"):
        committed = sorted(p.name for p in (ROOT / "results" / folder).glob("*.json"))
        assert committed and sorted(p.name for p in (shipped / folder).glob("*.json")) == committed


LOAD = """
import sys
from pathlib import Path
import torch
from cbam_helpers.engine import configs
from cbam_helpers.engine.records import load_network, weights_path
for name in sys.argv[2:]:
    configuration = getattr(configs, name)
    path = weights_path(configuration.at(0, "annealed"))
    assert path.is_relative_to(Path(sys.argv[1])), path
    network = load_network(configuration)
    x = torch.zeros(2, configuration.inputs.channels, 64, 64)
    print(name, tuple(network(x).shape))
"""


def test_wheel_ships_the_trained_networks_and_loads_them_by_name(installed):
    site, workdir, env = installed
    shipped = site / "cbam_helpers" / "results" / "annealed"
    for folder, pattern in (("weights", "*.safetensors"), ("inserted", "*.json"), ("retrained", "*.json")):
        committed = sorted(p.name for p in (ROOT / "results" / "annealed" / folder).glob(pattern))
        assert committed and sorted(p.name for p in (shipped / folder).glob(pattern)) == committed
    names = ["BASELINE", "LAST", "FIRST_ON_NOISE", "BLOCKS_CBAM"]
    out = subprocess.run([sys.executable, "-c", LOAD, str(site), *names], cwd=workdir, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.split() == [word for name in names for word in (name, "(2,", "10)")]
