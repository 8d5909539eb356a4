"""The README's promises a reader can run: its package snippet, as written."""
import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_package_snippet_runs_as_written(capsys):
    section = README.read_text().split("## The package", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # the reader's copy and paste
    assert namespace["scores"].shape == (8, 1280)  # the post's API: the last gate's scores, (B, C)
    assert namespace["gated"].shape == namespace["features"].shape
    assert isinstance(namespace["network"], torch.nn.Module)
    assert "record" in namespace and capsys.readouterr().out
