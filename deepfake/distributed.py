"""Data-parallel training and sharded scoring across processes: torchrun's environment in, one `Cluster` out.

`torchrun --nproc_per_node N train.py ...` starts N copies of the same command and sets RANK, WORLD_SIZE and
LOCAL_RANK; a plain `python train.py` is the one-process case of the same code (rank 0 of 1), so there is no
second training loop to keep in step. Every rank reads the same file lists and makes the same split; each
global batch is cut into equal per-rank slices (`GlobalBatchSampler`), DDP averages the gradients, and the
result is the same update a single process makes with the whole batch (exactly so for batch-independent
layers; BatchNorm layers become SyncBatchNorm on GPUs, and normalise each rank's slice on CPUs, where
PyTorch has no synchronised version).
"""
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from .errors import DeepfakeError


@dataclass(frozen=True)
class Cluster:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only rank 0 prints, writes checkpoints, logs and plots."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_finite(self, finite: bool) -> bool:
        """Whether every rank's loss is finite: all ranks stop together, none is left waiting in an all-reduce."""
        if not self.distributed:
            return finite
        flag = torch.tensor([1.0 if finite else 0.0])
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def sum(self, *values: float) -> List[float]:
        if not self.distributed:
            return list(values)
        totals = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(totals)
        return totals.tolist()

    def shard(self, items: Sequence) -> list:
        """This rank's deterministic share of `items`: every world_size-th item from its rank on. Strided, not
        in blocks, so that a sorted list's slow tail (videos come last) is spread over the ranks."""
        return list(items[self.rank::self.world_size])

    def merge_shards(self, shard_items: Sequence) -> list:
        """The inverse of shard() on rank 0: each rank's items, for its shard in order, interleaved back into the
        order of the unsharded list. Other ranks get []."""
        if not self.distributed:
            return list(shard_items)
        gathered = [None] * self.world_size if self.is_main else None
        dist.gather_object(list(shard_items), gathered, dst=0)
        if not self.is_main:
            return []
        merged = [None] * sum(len(items) for items in gathered)
        for rank, items in enumerate(gathered):
            merged[rank::self.world_size] = items
        return merged

    def gather(self, item) -> list:
        """Every rank's `item`, in rank order, on every rank (so all ranks take the same decisions)."""
        if not self.distributed:
            return [item]
        items = [None] * self.world_size
        dist.all_gather_object(items, item)
        return items


def start_cluster(device_type: str) -> Cluster:
    """Join the process group torchrun describes, or return the single-process cluster."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Cluster()
    cluster = Cluster(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        # NCCL moves CUDA tensors; gloo is the CPU backend (and what the CI test runs).
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return cluster


RUNS_ON = ("cpu", "cuda")


def default_device(requested: Optional[str] = None) -> torch.device:
    """--device as given, else the GPU where there is one. A device that is no device, or that this machine
    lacks, is one DeepfakeError naming it, before any work starts (torch's own error comes later, deep in a
    model's first call)."""
    if not requested:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in RUNS_ON:
        raise DeepfakeError(f"--device {requested}: not a device this runs on; use cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeepfakeError(f"--device {requested}: this machine has no CUDA GPU that PyTorch can use; "
                                f"use --device cpu (or leave --device out)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeepfakeError(f"--device {requested}: this machine has {torch.cuda.device_count()} GPU(s), "
                                f"numbered from 0")
    return device


def rank_device(device: torch.device, cluster: Cluster) -> torch.device:
    """Under torchrun each rank takes the GPU of its local rank (and makes it current, as NCCL needs)."""
    if device.type != "cuda" or not cluster.distributed:
        return device
    device = torch.device("cuda", cluster.local_rank)
    torch.cuda.set_device(device)
    return device


def stop_cluster(cluster: Cluster) -> None:
    if cluster.distributed and dist.is_initialized():
        dist.destroy_process_group()


class GlobalBatchSampler(Sampler[List[int]]):
    """This rank's slice of each global batch of one seeded shuffle, shared by all ranks.

    The global batch is what `--batch-size` means, whatever the number of processes: rank r takes items
    [r*b, (r+1)*b) of each batch of B = b * world_size. The last, incomplete global batch is dropped so that
    every rank takes the same number of equal steps (DDP's gradient mean is then the global batch mean).
    """

    def __init__(self, n_items: int, global_batch: int, cluster: Cluster, seed: int,
                 set_ids: Optional[Sequence[int]] = None, epoch_size: int = 0):
        if global_batch % cluster.world_size:
            raise ValueError(f"the batch size {global_batch} does not divide among {cluster.world_size} processes")
        self.n_items, self.cluster, self.seed = n_items, cluster, seed
        self.set_ids = set_ids if set_ids is not None and len(set(set_ids)) > 1 else None
        # epoch_size caps an epoch at that many items, a fresh draw each epoch (a large set need not be seen
        # whole every epoch; with several sets each gives its share)
        self.epoch_size = min(epoch_size, n_items) if epoch_size else n_items
        n_items = self.epoch_size
        if self.set_ids is not None:  # balanced epochs hold a whole share per set: up to (sets - 1) fewer items
            n_sets = len(set(self.set_ids))
            n_items = n_items // n_sets * n_sets
        self.epoch_items = n_items
        # A dataset smaller than one batch still trains: one batch of what there is, cut evenly.
        self.global_batch = min(global_batch, n_items - n_items % cluster.world_size)
        self.local_batch = self.global_batch // cluster.world_size

    def __len__(self) -> int:
        return self.epoch_items // self.global_batch if self.global_batch else 0

    def epoch_order(self) -> List[int]:
        generator = torch.Generator().manual_seed(self.seed)
        if self.set_ids is None:
            return torch.randperm(self.n_items, generator=generator).tolist()[:self.epoch_size]
        return balanced_order(self.set_ids, generator, self.epoch_size)

    def __iter__(self) -> Iterator[List[int]]:
        order = self.epoch_order()
        start = self.cluster.rank * self.local_batch
        for step in range(len(self)):
            first = step * self.global_batch + start
            yield order[first:first + self.local_batch]


def balanced_order(set_ids: Sequence[int], generator: torch.Generator, epoch_size: int = 0) -> List[int]:
    """One epoch in which every data set contributes the same number of items, in random order.

    The epoch keeps its length (the number of items, or epoch_size); a set larger than its share gives a fresh random subset
    each epoch, a smaller one repeats whole shuffles of itself. Without this, the largest set (face-swap
    frames, here) would decide what the model learns."""
    by_set: dict = {}
    for index, set_id in enumerate(set_ids):
        by_set.setdefault(set_id, []).append(index)
    share = (epoch_size or len(set_ids)) // len(by_set)
    chosen = []
    for members in by_set.values():
        repeats = -(-share // len(members))
        draws = torch.cat([torch.randperm(len(members), generator=generator) for _ in range(repeats)])[:share]
        chosen += [members[i] for i in draws.tolist()]
    return [chosen[i] for i in torch.randperm(len(chosen), generator=generator).tolist()]
