"""Training on several processes (torchrun): who this process is, and the few collectives `fit` needs.

ganaug averages gradients itself (one all-reduce per model and update, as StyleGAN2-ADA does) instead of wrapping
the models in DistributedDataParallel: a GAN step runs D and G several times per update with D frozen for G's
update, which DDP's one-forward-one-backward bookkeeping does not fit. Every rank starts from the same weights
(built from train.seed), applies the same averaged gradients and so keeps the same weights; buffers (batch-norm
statistics, spectral-norm vectors) are computed on each rank's own batch and then replaced by rank 0's after
every step, so they too stay identical. Batch norm therefore normalises over each rank's share of the batch, not
over the global batch (no SyncBatchNorm: the recipes' batches of 64 leave 32 per rank on two processes, enough).

With one process every function here is a no-op, so the single-process path is the unchanged code.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import Tensor

from ganaug.errors import UsageError

if TYPE_CHECKING:
    from ganaug.gan.models import Trainable


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, samples, logs and evaluations."""
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> World:
        """What torchrun (or any launcher setting RANK, WORLD_SIZE and LOCAL_RANK) says; one process otherwise."""
        try:
            size = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise UsageError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them); unset "
                             "them to train in one process") from None
        if not 0 <= rank < size:
            raise UsageError(f"RANK {rank} is outside 0..WORLD_SIZE-1 ({size - 1}); launch with torchrun")
        return cls(rank, size, local)


@contextlib.contextmanager
def joined(world: World, device: torch.device) -> Iterator[torch.device]:
    """This process's device, with the process group up while the block runs: gloo on the CPU, NCCL on GPUs,
    where each rank takes the GPU of its LOCAL_RANK."""
    if world.size == 1:
        yield device
        return
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise UsageError(f"LOCAL_RANK {world.local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                             "start at most that many processes per node (--nproc_per_node)")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    started_here = not dist.is_initialized()
    if started_here:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    try:
        yield device
    finally:
        if started_here:
            dist.destroy_process_group()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_sum(tensor: Tensor) -> Tensor:
    """The sum over ranks, in place (and returned)."""
    if is_distributed():
        dist.all_reduce(tensor)
    return tensor


def all_mean(tensor: Tensor) -> Tensor:
    """The mean over ranks, in place (and returned)."""
    if is_distributed():
        dist.all_reduce(tensor)
        tensor /= dist.get_world_size()
    return tensor


def all_gather_tensors(tensors: dict[str, Tensor]) -> list[dict[str, Tensor]]:
    """Every rank's `tensors` (the same names, shapes and dtypes on each), in rank order, on the CPU; [tensors]
    with one process. Checkpoints collect the ranks' random streams this way (no pickling)."""
    if not is_distributed():
        return [tensors]
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    gathered: list[dict[str, Tensor]] = [{} for _ in range(dist.get_world_size())]
    for name, tensor in tensors.items():
        mine = tensor.to(device)
        theirs = [torch.empty_like(mine) for _ in gathered]
        dist.all_gather(theirs, mine)
        for rank, received in enumerate(theirs):
            gathered[rank][name] = received.cpu()
    return gathered


def average_gradients(module: Trainable) -> None:
    """Replace every gradient of `module` by its mean over ranks: one all-reduce of them all, flattened."""
    if is_distributed():
        _flattened([p.grad for p in module.parameters() if p.grad is not None], all_mean)


def share_buffers(module: Trainable) -> None:
    """Every rank takes rank 0's floating-point buffers (batch-norm statistics, spectral-norm vectors)."""
    if is_distributed():
        _flattened([b for b in module.buffers() if b.is_floating_point()], lambda flat: dist.broadcast(flat, src=0))


def _flattened(tensors: list[Tensor], collective: Callable[[Tensor], object]) -> None:
    """One collective over all `tensors` at once (concatenated), its result copied back into each."""
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    collective(flat)
    for tensor, part in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
        tensor.copy_(part.view_as(tensor))


def rank_seed(seed: int, rank: int) -> int:
    """Rank 0 keeps `seed` (so one process is unchanged); the others get streams of their own from it."""
    return seed if rank == 0 else (seed * 1_000_003 + rank * 7_919) % (2**63 - 1)
