"""Trained networks as files: a run's final weights in fp16 safetensors.

safetensors, not a pickle: loading a file from the internet reads tensors and runs no code. fp16 halves the
size of fp32; integer buffers (BatchNorm's batch counters) keep their type, and loading casts every tensor back
to the dtype of the model it goes into.
"""
from pathlib import Path

from safetensors.torch import load_file, save_file


def weights_name(config):
    """Where a run's weights sit under a results folder: ``<profile>/weights/<run id>.safetensors``."""
    return Path(config.profile.name) / "weights" / f"{config.run_id}.safetensors"


def save_weights(model, path, run_id):
    """Write ``model``'s state in fp16 (floating tensors) to ``path`` atomically, with its run id as metadata."""
    state = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file(state, partial, metadata={"run_id": run_id, "floating_dtype": "float16"})
    partial.replace(path)
    return path


def load_weights(model, path):
    """Load ``path`` into ``model`` strictly, each tensor cast to the dtype the model holds; returns ``model``."""
    state = load_file(Path(path))
    own = model.state_dict()
    missing, unexpected = own.keys() - state.keys(), state.keys() - own.keys()
    if missing or unexpected:
        raise ValueError(f"{path} does not fit this model: missing {sorted(missing)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return model
