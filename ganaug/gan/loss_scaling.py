"""fp16's loss scaling: one torch GradScaler per optimiser, with its scale kept in checkpoints.

A resumed fp16 run continues with the scale it had reached instead of the initial 65,536, which would overflow
and skip updates again for the first steps after every resume (so a resumed run would not match an unbroken one).
With bf16 or fp32 the scalers are disabled: they pass the loss through and save nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LossScalers:
    def __init__(self, device_type: str = "cpu", enabled: bool = False) -> None:
        self.d, self.g = (torch.amp.GradScaler(device_type, enabled=enabled) for _ in range(2))

    def state_dict(self) -> dict[str, Tensor]:
        """The scale and the count of steps since it last grew, per optimiser (a host sync: checkpoints only)."""
        tensors = {}
        for name, scaler in (("d", self.d), ("g", self.g)):
            if scaler.is_enabled():
                state = scaler.state_dict()
                tensors[f"{name}.scale"] = torch.tensor(state["scale"], dtype=torch.float64)
                tensors[f"{name}.growth_tracker"] = torch.tensor(state["_growth_tracker"], dtype=torch.int64)
        return tensors

    def load_state_dict(self, tensors: dict[str, Tensor]) -> None:
        """Restore what state_dict saved; a checkpoint without it (bf16, fp32, older ganaug) leaves the initial
        scale."""
        for name, scaler in (("d", self.d), ("g", self.g)):
            if scaler.is_enabled() and f"{name}.scale" in tensors:
                scaler.load_state_dict({**scaler.state_dict(), "scale": float(tensors[f"{name}.scale"]),
                                        "_growth_tracker": int(tensors[f"{name}.growth_tracker"])})
