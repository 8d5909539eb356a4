"""Files written whole or not at all: a reader, or a run interrupted mid-write, never sees half a file."""
import json
import os

import torch


def replace_atomically(path, write):
    """Call ``write(temporary_path)``, then rename over ``path``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_atomically(obj, path):
    """``torch.save`` through :func:`replace_atomically`."""
    replace_atomically(path, lambda tmp: torch.save(obj, tmp))


def write_json(obj, path):
    """JSON, indented by one, through :func:`replace_atomically`."""
    replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1)))
