"""Does compiling a graph to torch.fx cost training speed? Measured side by side in one run.

Trains the digits_cnn example's compiled module and an equivalent hand-written ``nn.Module``
(idiomatic code: ``F.relu``, ``F.max_pool2d``, ``torch.flatten``) from the same weights, on the
same data (scikit-learn's 8x8 digits) in the same batch order, taking turns, and prints the
throughput of each, ``ratio: X`` (compiled / hand-written) and whether their outputs match.

Throughput is samples per CPU-second of this process: on a machine shared with other work the
wall clock mostly measures the scheduler. The wall-clock ratio is printed too.

    .venv/bin/python benchmarks/compile_overhead.py [--epochs 6] [--chunk 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graph.model import Edge, Graph  # noqa: E402
from runtime.compile import Compiled, compile_graph  # noqa: E402

LENET = ["Input", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
         "Linear", "ReLU", "Linear", "Output"]


def digits_graph() -> tuple[Graph, str]:
    """The digits_cnn example's graph when the examples exist, else the same LeNet built here."""
    try:
        from resources.examples.make import build

        return build("digits_cnn").graph, "resources/examples digits_cnn"
    except ImportError:
        pass
    graph = Graph()
    previous = None
    for layer_id, params in [
        ("Input", {"shape": (1, 8, 8)}),
        ("Conv2d", {"out_channels": 16, "padding": (1, 1)}), ("ReLU", {}), ("MaxPool2d", {}),
        ("Conv2d", {"out_channels": 32, "padding": (1, 1)}), ("ReLU", {}), ("MaxPool2d", {}),
        ("Flatten", {}), ("Linear", {"out_features": 64}), ("ReLU", {}),
        ("Linear", {"out_features": 10}), ("Output", {}),
    ]:
        node = graph.add_node(layer_id, params)
        if previous is not None:
            graph.connect(Edge(previous.id, "out", node.id, "in"))
        previous = node
    return graph, "built in the benchmark"


class HandWrittenCNN(nn.Module):
    """digits_cnn as one would write it by hand."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        if self.dropout:
            x = F.dropout(x, self.dropout, self.training)
        return self.fc2(x)


def hand_written_twin(compiled: Compiled) -> HandWrittenCNN:
    """The hand-written network with the compiled one's weights (checks the layers match)."""
    graph = compiled.graph
    types = [graph.nodes[i].type for i in graph.topological_order()]
    dropouts = [graph.nodes[i] for i in graph.nodes if graph.nodes[i].type == "Dropout"]
    if [t for t in types if t != "Dropout"] != LENET or len(dropouts) > 1:
        raise SystemExit(f"digits_cnn is no longer the LeNet this benchmark mirrors: {types}")
    twin = HandWrittenCNN(float(dropouts[0].param("p")) if dropouts else 0.0)
    weighted = [compiled.module.get_submodule(compiled.module_names[i])
                for i in graph.topological_order() if graph.nodes[i].type in ("Conv2d", "Linear")]
    for mine, theirs in zip([twin.conv1, twin.conv2, twin.fc1, twin.fc2], weighted, strict=True):
        mine.load_state_dict(theirs.state_dict())
    return twin


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from sklearn.datasets import load_digits

        data = load_digits()
        x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
        return x, torch.tensor(data.target, dtype=torch.int64)
    except ImportError:  # same size and value range, random
        generator = torch.Generator().manual_seed(0)
        return (torch.rand(1797, 1, 8, 8, generator=generator),
                torch.randint(0, 10, (1797,), generator=generator))


class Trainer:
    """One network's training state: its optimizer and its own random stream (dropout), so the
    two networks can take turns on the same batches and still compute exactly the same thing."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
        self.rng = torch.Generator().manual_seed(0).get_state()
        self.seconds = 0.0  # wall clock
        self.cpu_seconds = 0.0  # CPU time of this process: what other users' load leaves out
        self.samples = 0

    def steps(self, x: torch.Tensor, y: torch.Tensor, batches: list[torch.Tensor]) -> float:
        """Train on ``batches``; returns the CPU seconds it took (also added to the totals)."""
        saved = torch.get_rng_state()
        torch.set_rng_state(self.rng)
        self.model.train()
        start, cpu_start = time.perf_counter(), time.process_time()
        for batch in batches:
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(x[batch]), y[batch])
            loss.backward()
            self.optimizer.step()
        cpu_seconds = time.process_time() - cpu_start
        self.seconds += time.perf_counter() - start
        self.rng = torch.get_rng_state()
        torch.set_rng_state(saved)
        self.cpu_seconds += cpu_seconds
        self.samples += sum(len(b) for b in batches)
        return cpu_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs each network trains")
    parser.add_argument("--chunk", type=int, default=8, help="batches per turn")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    graph, source = digits_graph()
    torch.manual_seed(0)
    compiled = compile_graph(graph)
    twin = hand_written_twin(compiled)
    x, y = digits()
    order = list(torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
                 .split(args.batch_size))

    compiled.module.eval()
    twin.eval()
    with torch.no_grad():
        before = (compiled.module(x) - twin(x)).abs().max().item()

    # Warm up each network on copies, then take turns every --chunk batches (the order of
    # the pair alternates too), so load from other processes hits both alike.
    for model in (copy.deepcopy(compiled.module), copy.deepcopy(twin)):
        Trainer(model).steps(x, y, order[:args.chunk])
    trainers = {"compiled": Trainer(compiled.module), "hand-written": Trainer(twin)}
    plan = [batch for _ in range(args.epochs) for batch in order]
    chunks = [plan[i:i + args.chunk] for i in range(0, len(plan), args.chunk)]
    paired: list[float] = []
    for index, chunk in enumerate(chunks):
        names = ["compiled", "hand-written"][:: 1 if index % 2 == 0 else -1]
        seconds = {name: trainers[name].steps(x, y, chunk) for name in names}
        paired.append(seconds["hand-written"] / seconds["compiled"])

    compiled.module.eval()
    twin.eval()
    with torch.no_grad():
        after = (compiled.module(x) - twin(x)).abs().max().item()
    diff = max(before, after)

    print(f"graph: {source}; {len(x)} samples, batch {args.batch_size}, {args.epochs} epochs "
          f"each, turns of {args.chunk} batches, {args.threads} thread(s), torch "
          f"{torch.__version__}")
    wall = {name: t.samples / t.seconds for name, t in trainers.items()}
    cpu = {name: t.samples / t.cpu_seconds for name, t in trainers.items()}
    for name, t in trainers.items():
        print(f"{name:>12}: {cpu[name]:8.0f} samples per CPU-second ({t.cpu_seconds:.2f} s), "
              f"{wall[name]:8.0f} samples/s wall clock ({t.seconds:.2f} s)")
    print(f"wall-clock ratio: {wall['compiled'] / wall['hand-written']:.3f}")
    print(f"median of {len(paired)} paired turns (CPU time): {statistics.median(paired):.3f}")
    print(f"ratio: {cpu['compiled'] / cpu['hand-written']:.3f}")
    print(f"max abs diff: {diff:.3g} (before and after training)")
    print(f"outputs match: {diff <= 1e-5}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
