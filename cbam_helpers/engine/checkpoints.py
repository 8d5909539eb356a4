"""A run's state after every epoch, so an interrupted run resumes exactly where it stopped."""
import torch

from cbam_helpers.engine.atomic import save_atomically


def save_checkpoint(path, model, optimizer, scaler, scheduler, history):
    save_atomically(dict(model=model.state_dict(), optimizer=optimizer.state_dict(), scaler=scaler.state_dict(),
                         scheduler=scheduler.state_dict(), history=history), path)


def restore_checkpoint(path, model, optimizer, scaler, scheduler, device):
    """Load ``path`` into the objects and return its history; ``[]`` when there is no checkpoint yet."""
    if not path.exists():
        return []
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    if "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    return state["history"]
