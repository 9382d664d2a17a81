"""Source blocks both exported training scripts share (runtime/export_script.py for one
network, runtime/export_gan.py for a GAN): starting the processes torchrun launches, Plexus'
batch order split between them, and saving weights."""

from __future__ import annotations

from typing import Any

# The standard library the scripts' shared blocks use (each script adds its own).
STDLIB_IMPORTS = ("import argparse", "import math", "import os", "import sys")

# The processes: torchrun's environment, the device of each, the process group.
PROCESSES = '''

def start_processes(requested: str) -> tuple[bool, int, int, int, torch.device]:
    """(distributed, rank, world size, local rank, device) of this process: torchrun sets
    RANK, LOCAL_RANK and WORLD_SIZE; plain python runs one process. Joins the process group
    (nccl on CUDA, gloo on the CPU) when distributed."""
    distributed = "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    cuda = requested == "cuda" or (requested == "auto" and torch.cuda.is_available())
    if cuda and local_rank >= torch.cuda.device_count():
        raise SystemExit(f"process {local_rank} has no GPU of its own ("
                         f"{torch.cuda.device_count()} found): start at most that many "
                         "processes per machine, or train with --device cpu")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    if BATCH_SIZE < world:
        raise SystemExit(f"BATCH_SIZE {BATCH_SIZE} is less than the {world} processes: each "
                         "takes a share of every step's batch")
    return distributed, rank, world, local_rank, device


def finish_processes(rank: int, world: int) -> None:
    """Leave the process group together, then end without the interpreter's teardown: with
    all work done and the group destroyed, gloo's C++ side still aborts there now and then
    ("terminate called without an active exception"), which torchrun reports as a failure."""
    print(f"rank {rank} of {world} finished", flush=True)
    dist.barrier()  # gloo aborts a rank that tears down while its peer still saves
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
'''

# Plexus' batch order.
STEP_BATCHES = '''

class StepBatches(Sampler[list[int]]):
    """Plexus' batches: a shuffle per epoch (seeded once, as Plexus), cut into BATCH_SIZE
    samples per step; a last batch of one sample joins the one before it (BatchNorm needs
    two). With torchrun every process draws the same shuffle and takes its share of each
    step's batch, and DDP averages their gradients: N processes take the steps one takes.
    (Not DistributedSampler: it shuffles each process's share of the epoch on its own.)"""

    def __init__(self, size: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.rank, self.world = size, rank, world
        self.generator = torch.Generator().manual_seed(TRAINING_SEED)
        self.bounds = [(s, min(s + BATCH_SIZE, size)) for s in range(0, size, BATCH_SIZE)]
        if len(self.bounds) > 1 and self.bounds[-1][1] - self.bounds[-1][0] == 1:
            self.bounds[-2:] = [(self.bounds[-2][0], size)]

    def __len__(self) -> int:
        return len(self.bounds)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.size, generator=self.generator)
        for start, end in self.bounds:
            yield order[start:end].tensor_split(self.world)[self.rank].tolist()
'''

SAVE_WEIGHTS = '''

def save_weights(model: nn.Module, path: str) -> None:
    """Safetensors keyed like the model's state_dict, which the model's load_weights(path)
    reads."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        raise SystemExit("saving the weights needs safetensors: pip install safetensors") from None
    save_file(state, path)
'''


def training_seed_line(training: Any) -> str:
    """The TRAINING_SEED constant: Plexus seeds a run (fresh weights, batch order, dropout)
    with the training seed, not the data set's SEED."""
    return (f"TRAINING_SEED = {int(training.seed)}  # fresh weights, batch order and "
            "dropout, as Plexus seeds a run")


def shared_blocks() -> list[str]:
    """The shared blocks, each followed by a blank line, for a script's sections."""
    return [PROCESSES.strip("\n"), "", STEP_BATCHES.strip("\n"), "",
            SAVE_WEIGHTS.strip("\n"), ""]
