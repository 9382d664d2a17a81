"""The training script export: the module, the project's data, loss, optimizer and loop in
one file that runs as ``python train.py`` and as ``torchrun --nproc_per_node N train.py``.

The script is assembled from small source blocks, keeping only what the project uses (its
dataset's loader, its loss, its schedule), so it reads like a script written for this one
model. The data part comes from the dataset's own declaration (runtime/export_data.py):
regenerated or read with the builder's code, or shipped as Plexus' split beside the script.
Training follows ``runtime/train.py``: the same batches-per-epoch rules, the loss and metric
of the Output head (classification, regression, tagging, forecasting or reconstruction, as
``runtime/heads.py`` computes them), schedules, early stopping and "keep the weights of the
best validation loss".

With ``torchrun`` the model is wrapped in DistributedDataParallel (nccl on CUDA, gloo on the
CPU) and each process takes its share of every step's batch (``StepBatches``); every
process evaluates the whole validation set, so they all take the same early-stopping and
best-epoch decisions, and rank 0 saves the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graph.project import Project
from runtime import export
from runtime.export_blocks import STDLIB_IMPORTS, shared_blocks, training_seed_line
from runtime.export_data import data_source, merged_from, saves_data, write_data
from runtime.export_gan import gan_script, write_gan_script
from runtime.export_heads import (
    LOSS_CALLS,
    SEVERAL_TASKS,
    loss_source,
    resolved_loss,
    score_source,
    several_heads_source,
)


def start_file(weights_file: str) -> str:
    """The name of the weights a script starts from, beside its own output weights."""
    return weights_file.removesuffix(".safetensors") + "_start.safetensors"


# -- optimizer, schedule, loop --------------------------------------------------------------------
_OPTIMIZERS = {
    "sgd": "torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)",
    "adam": "torch.optim.Adam(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
    "adamw": "torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
    "rmsprop": "torch.optim.RMSprop(groups, lr=LR, momentum=MOMENTUM, "
               "weight_decay=WEIGHT_DECAY)",
}

_GROUPS_PLAIN = '''

def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    return OPTIMIZER
'''

_GROUPS_NODES = '''

def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Frozen layers are not trained; the others learn at LR times their multiplier."""
    by_mult: dict[float, list[nn.Parameter]] = {}
    for name, module in model.named_children():
        mult = LR_MULT.get(name, 1.0)
        for p in module.parameters():
            if name in FROZEN or mult == 0.0:
                p.requires_grad_(False)
            else:
                by_mult.setdefault(mult, []).append(p)
    groups = [{"params": params, "lr": LR * mult} for mult, params in sorted(
        by_mult.items(), key=lambda item: (item[0] != 1.0, item[0]))]
    return OPTIMIZER
'''

_SCHEDULES = {
    "none": ("None", False),
    "step": ("torch.optim.lr_scheduler.StepLR(optimizer, STEP_SIZE, GAMMA)", False),
    "cosine": ("torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, total_steps))",
               True),
    "onecycle": ("torch.optim.lr_scheduler.OneCycleLR(\n"
                 "            optimizer, max_lr=[g[\"lr\"] for g in optimizer.param_groups],\n"
                 "            total_steps=max(1, total_steps), cycle_momentum={cycle})", True),
}

_MAIN = '''

@torch.no_grad()
def evaluate(model: nn.Module, data: TensorDataset, device: torch.device
             ) -> tuple[float, dict[str, float]]:
    """(mean loss, {metric: value}) of the whole data set, in eval mode."""
    model.eval()
    total, count, score = 0.0, 0, Score()
    for x, y in DataLoader(data, batch_size=EVAL_BATCH):
        x, y = x.to(device), y.to(device)
        out = model(x)
        total += float(compute_loss(out, y)) * len(x)
        count += len(x)
        score.update(out, y)
    return total / max(1, count), score.values()


def metrics_text(scores: dict[str, float], separator: str) -> str:
    """"val accuracy 0.9722": every metric Plexus reports, the main one first."""
    return separator.join(f"val {name} {value:.4f}" for name, value in scores.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=DEVICE)
    parser.add_argument("--out", default=WEIGHTS_FILE, help="weights file rank 0 writes")
    parser.add_argument("--start", default=START_FILE, help="weights to start from (the "
                        "project's, when it was exported trained); '' for random weights")
    args = parser.parse_args()

    distributed, rank, world, local_rank, device = start_processes(args.device)
    train_set, val_set = load_data()
    if len(val_set) == 0:
        val_set = train_set
    torch.manual_seed(TRAINING_SEED)
    model = MODEL()
    if args.start:  # as in Plexus, training goes on from the weights the project had
        model.load_weights(args.start)
    torch.manual_seed(TRAINING_SEED)  # as Plexus: the run's random draws start from the seed
    model = model.to(device)
    optimizer = make_optimizer(model)
    net: nn.Module = model
    if distributed:
        net = DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda"
                                      else None)
    loader = DataLoader(train_set, batch_sampler=StepBatches(len(train_set), rank, world))
    SCHEDULE_LINE
    if rank == 0:
        print(f"training on {device} x {world}: {args.epochs} epochs of {len(loader)} steps, "
              f"{sum(p.numel() for p in model.parameters()):,} parameters")

    best_loss, best_epoch, best_state, stale = math.inf, 0, None, 0
    for epoch in range(1, args.epochs + 1):
        net.train()
        FROZEN_EVALsums = torch.zeros(2, dtype=torch.float64, device=device)
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = compute_loss(net(x), y)
            loss.backward()
            GRAD_CLIPoptimizer.step()
            STEP_SCHEDULEsums[0] += loss.detach() * len(x)  # stays on the GPU: it never waits
            sums[1] += len(x)
        if distributed:
            dist.all_reduce(sums)
        EPOCH_SCHEDULEval_loss, val_scores = evaluate(model, val_set, device)
        if val_loss < best_loss:
            best_loss, best_epoch, stale = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if rank == 0:
            print(f"epoch {epoch}/{args.epochs}  train loss {float(sums[0] / sums[1]):.4f}  "
                  f"val loss {val_loss:.4f}  {metrics_text(val_scores, '  ')}", flush=True)
        if EARLY_STOPPING and stale >= EARLY_STOPPING:
            if rank == 0:
                print(f"stopped early: no better validation loss for {EARLY_STOPPING} epochs")
            break

    if best_state is not None:
        model.load_state_dict(best_state)  # the weights of the best validation loss
    if rank == 0:
        val_loss, val_scores = evaluate(model, val_set, device)
        save_weights(model, args.out)
        print(f"best epoch {best_epoch}: val loss {val_loss:.4f}, "
              f"{metrics_text(val_scores, ', ')}; saved {args.out}")
    if distributed:
        finish_processes(rank, world)


if __name__ == "__main__":
    main()
'''


TASKS = ("classification", "regression", "tagging", "forecasting", "reconstruction")


def script_source(d: export.Design, name: str, weights_file: str, data_file: str) -> str:
    """The training script for the compiled design ``d``."""
    project = d.project
    nodes = d.graph_nodes
    if len(d.compiled.input_nodes) != 1:
        raise export.ExportError(
            f"'{project.name}' has {len(d.compiled.input_nodes)} Input nodes; training scripts "
            "are exported for networks with one (export the module with --to python instead)")
    input_node = nodes[d.compiled.input_nodes[0]]
    heads = [_head(d, nodes[i], input_node) for i in d.compiled.output_nodes]
    several = len(heads) > 1
    if several:
        for head in heads:
            if head.task not in SEVERAL_TASKS:
                raise export.ExportError(
                    f"{nodes[head.node_id].label} trains for {head.task}; training scripts "
                    f"for several Output heads support {', '.join(SEVERAL_TASKS)} heads")
    task = heads[0].task
    training = project.training
    dataset = project.dataset
    data_consts, data_code, data_imports = data_source(
        dataset, data_file, [h.name for h in heads] if several else None)

    module_names = d.compiled.module_names
    frozen = sorted(module_names[i] for i in module_names if nodes[i].frozen)
    lr_mult = {module_names[i]: float(nodes[i].lr_mult) for i in sorted(module_names)
               if nodes[i].lr_mult != 1.0}
    optimizer_call = _OPTIMIZERS.get(training.optimizer)
    if optimizer_call is None:
        raise export.ExportError(f"training.optimizer {training.optimizer!r} is unknown; choose "
                                 "sgd, adam, adamw or rmsprop")
    groups = _GROUPS_NODES if frozen or lr_mult else _GROUPS_PLAIN
    groups = groups.replace("OPTIMIZER", optimizer_call)

    schedule, per_step = _SCHEDULES.get(training.schedule, ("None", False))
    cycle = training.optimizer in ("adam", "adamw") or training.momentum > 0
    schedule = schedule.replace("{cycle}", repr(cycle))
    main = _MAIN.replace("MODEL", name)
    if several:  # batches are [x, y_head1, y_head2, ...]; y is the list of targets
        main = main.replace("for x, y in", "for x, *y in").replace(
            "x, y = x.to(device), y.to(device)", "x, y = x.to(device), [t.to(device) for t in y]")
    if task == "reconstruction":  # the target is the input itself; labels, if any, score it
        main = main.replace("compute_loss(out, y)", "compute_loss(out, x)").replace(
            "compute_loss(net(x), y)", "compute_loss(net(x), x)").replace(
            "score.update(out, y)", "score.update(out, x)\n        score.add_labels(y)")
    if task == "forecasting":
        main = main.replace("score.update(out, y)",
                            "score.update(out, y)\n        score.add_baseline(x, y)")
    if training.schedule == "none":
        main = main.replace("    SCHEDULE_LINE\n", "")
    elif per_step:
        main = main.replace("SCHEDULE_LINE", "total_steps, step = args.epochs * len(loader), 0\n"
                            f"    schedule = {schedule}")
    else:
        main = main.replace("SCHEDULE_LINE", f"schedule = {schedule}")
    main = main.replace("STEP_SCHEDULE", "step += 1\n            if step < total_steps:  # as "
                        "Plexus: no step after the last\n                schedule.step()\n"
                        "            " if per_step else "")
    main = main.replace("EPOCH_SCHEDULE", "schedule.step()\n        "
                        if training.schedule != "none" and not per_step else "")
    main = main.replace("GRAD_CLIP", "nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)\n"
                        "            " if training.grad_clip > 0 else "")
    main = main.replace("FROZEN_EVAL", "for frozen in FROZEN:  # frozen layers keep their "
                        "statistics\n            getattr(model, frozen).eval()\n        "
                        if frozen else "")

    eval_batch = max(training.batch_size, min(1024, 4 * training.batch_size))
    consts = [
        "# -- settings of the Plexus project " + "-" * 60,
        *data_consts,
        f"EPOCHS = {int(training.epochs)}",
        f"BATCH_SIZE = {int(training.batch_size)}",
        training_seed_line(training),
        f"EVAL_BATCH = {eval_batch}",
        f"LR = {float(training.lr)!r}",
    ]
    if training.optimizer in ("sgd", "rmsprop"):
        consts.append(f"MOMENTUM = {float(training.momentum)!r}")
    consts.append(f"WEIGHT_DECAY = {float(training.weight_decay)!r}")
    if training.schedule == "step":
        consts += [f"STEP_SIZE = {int(training.step_size)}", f"GAMMA = {float(training.gamma)!r}"]
    consts.append(f"EARLY_STOPPING = {int(training.early_stopping)}  # patience in epochs, 0: off")
    if training.grad_clip > 0:
        consts.append(f"GRAD_CLIP = {float(training.grad_clip)!r}")
    consts.append(f"DEVICE = {export.literal(training.device)}")
    if any(head.task == "tagging" for head in heads):
        consts.append("IGNORE = -100  # the tag of steps without a label (padding)")
    if several:
        consts += export.fit_line(f"HEADS = {export.literal([h.name for h in heads])}  "
                                  "# the Output heads, in the order the model returns them")
    if frozen:
        consts += export.fit_line(f"FROZEN = {export.literal(frozen)}")
    if lr_mult and not frozen:
        consts.append("FROZEN: list[str] = []")
    if lr_mult or frozen:
        consts += export.fit_line(f"LR_MULT = {export.literal(lr_mult)}")
    consts += ["WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),",
               f"                            {export.literal(weights_file)})"]
    if d.trained:
        consts += ["START_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),",
                   f"                          {export.literal(start_file(weights_file))})"]
    else:
        consts.append('START_FILE = ""  # the project had no trained weights: random ones')

    title = (f"Train {name}, the network of the Plexus project "
             f"'{export.safe_text(project.name)}', on {dataset.name}.")
    saved = (f" It reads the data from {data_file}, which the export wrote beside it."
             if saves_data(dataset, several) else "")
    if d.trained:
        saved += (f" It starts from the project's weights, {start_file(weights_file)} "
                  "beside it (--start '' for random ones).")
    header = [
        *export.wrap_text('"""' + title),
        "",
        "One process:        python SCRIPT [--epochs N] [--device auto|cpu|cuda]",
        "Several processes:  torchrun --nproc_per_node N SCRIPT",
        "Several machines:   torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d",
        "                    --rdzv-endpoint HOST:PORT SCRIPT  (the same line on every machine)",
        "",
        *export.wrap_text(
            "With torchrun the model trains with DistributedDataParallel (nccl on CUDA GPUs, "
            "gloo on the CPU) and each process takes its share of every step's batch through the "
            f"StepBatches sampler. Rank 0 saves the weights of the best validation loss to "
            f"{weights_file} (next to this file, or --out), which {name}().load_weights() "
            f"reads.{saved}"),
        '"""',
    ]
    header = [line.replace("SCRIPT", "train.py") for line in header]
    stdlib = sorted({*STDLIB_IMPORTS, *(i for i in data_imports if i.startswith("import "))})
    # the forecast baseline is runtime.heads' own function, annotated with Any and Tensor
    head_imports = ["from typing import Any"] if task == "forecasting" else []
    stdlib_from = merged_from(["from collections.abc import Iterator",
                               "from typing import ClassVar", *head_imports,
                                *(i for i in data_imports if i.startswith("from "))])
    imports = [
        "", "from __future__ import annotations", "",
        *stdlib, *stdlib_from, "",
        "import numpy as np",
        "import torch",
        "import torch.distributed as dist",
        "from torch import Tensor, nn" if task == "forecasting" else "from torch import nn",
        "from torch.nn.parallel import DistributedDataParallel",
        "from torch.utils.data import DataLoader, Sampler, TensorDataset",
        "",
    ]
    model = export.class_source(d, name)
    sections = [
        *header, *imports, *consts, "",
        "# -- the model " + "-" * 81, *model, "", "",
        "# -- data " + "-" * 86, data_code.strip("\n"), "", "",
        "# -- loss, score and training " + "-" * 66,
        *_loss_and_score(heads),
        groups.strip("\n"), "",
        *shared_blocks(),
        main.strip("\n"),
    ]
    return export.join_lines(sections)


@dataclass(frozen=True)
class ScriptHead:
    """One Output head as the script trains it: its loss resolved, its output width."""

    node_id: int
    name: str
    task: str
    loss: str
    width: int
    weight: float


def _head(d: export.Design, head: Any, input_node: Any) -> ScriptHead:
    """The head of Output node ``head``; ExportError when a script cannot train it."""
    out_shape = d.outputs[head.id]
    width = int(out_shape[-1]) if len(out_shape) > 1 else 1
    task = str(head.param("task"))
    if task not in TASKS:
        raise export.ExportError(f"{head.label} trains for {task}; training scripts are "
                                 f"exported for {', '.join(TASKS)} heads (export the module "
                                 "with --to python instead)")
    loss = resolved_loss(task, str(head.param("loss")), width)
    if task == "tagging" and loss != "cross_entropy":
        raise export.ExportError(f"{head.label} (tagging) trains with cross_entropy, not "
                                 f"{loss}; set its loss to auto")
    if task == "reconstruction" and loss == "cross_entropy":
        raise export.ExportError(f"{head.label} (reconstruction) cannot train with "
                                 "cross_entropy; choose auto, mse, bce, l1 or huber")
    if task == "reconstruction" and str(input_node.param("dtype")) == "long":
        raise export.ExportError(f"{head.label} (reconstruction) would rebuild integer token "
                                 "ids; reconstruct float inputs, or use task tagging")
    if loss not in LOSS_CALLS and loss != "cross_entropy":
        raise export.ExportError(f"{head.label}: loss {loss!r} has no training script "
                                 "equivalent; choose auto, cross_entropy, bce, mse, l1 or huber")
    weight = float(head.all_params().get("weight", 1.0))
    return ScriptHead(head.id, head.name, task, loss, width, weight)


def _loss_and_score(heads: list[ScriptHead]) -> list[str]:
    """The script's ``compute_loss`` and ``Score`` sections: the head's own, or with several
    heads one loss function and one Score class per head and the two that combine them."""
    if len(heads) == 1:
        head = heads[0]
        return [loss_source(head.task, head.loss, head.width).strip("\n"), "",
                score_source(head.task, head.loss, head.width).strip("\n"), ""]
    parts = []
    for head in heads:
        suffix = export.class_name(head.name)
        parts += [loss_source(head.task, head.loss, head.width).strip("\n").replace(
                      "def compute_loss(", f"def loss_{export.file_stem(head.name)}("), "",
                  score_source(head.task, head.loss, head.width).strip("\n").replace(
                      "class Score:", f"class Score{suffix}:"), ""]
    losses = ", ".join(f"(loss_{export.file_stem(h.name)}, {h.weight!r})" for h in heads)
    scores = ", ".join(f"Score{export.class_name(h.name)}()" for h in heads)
    parts.append(several_heads_source(losses, scores).strip("\n"))
    parts.append("")
    return parts


def seeded_design(project: Project) -> export.Design:
    """The design with its layers that have no stored weights initialised as Plexus
    initialises them for a run (torch seeded with the training seed, as runtime.prepare
    does): a project with some weights (an imported trunk) exports the very start Plexus
    trains from. The caller's random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(project.training.seed)
        return export.design(project)


# -- entry points ----------------------------------------------------------------------------------
def is_gan(project: Project) -> bool:
    """Whether the project trains in GAN mode (runtime.export_gan writes its script)."""
    return (project.training.options or {}).get("mode") == "gan"


def export_script(project: Project, weights_file: str | None = None,
                  data_file: str | None = None) -> str:
    """A training script (``python train.py`` or ``torchrun --nproc_per_node N train.py``)
    with the module, the project's data, loss, optimizer, schedule and loop. Data sets the
    script cannot regenerate are read from ``data_file`` beside it (see write_script)."""
    stem = export.file_stem(project.name)
    if is_gan(project):
        return gan_script(project, stem, data_file or f"{stem}_data.npz")[0]
    d = seeded_design(project)
    weights_file = weights_file or f"{stem}.safetensors"
    data_file = data_file or f"{stem}_data.npz"
    return script_source(d, export.class_name(project.name), weights_file, data_file)


def write_script(project: Project, path: str | Path) -> list[Path]:
    """Write the training script; it saves its weights beside itself as "<stem>.safetensors".
    For data sets it cannot regenerate, the project's split goes beside it as
    "<stem>_data.npz", and a trained project's weights, which it starts from, as
    "<stem>_start.safetensors" (returned after the script, in that order)."""
    path = Path(path)
    if path.suffix != ".py":
        raise export.ExportError(f"{path.name}: a training script file must end in .py")
    if is_gan(project):
        return write_gan_script(project, path)
    data = path.with_name(f"{path.stem}_data.npz")
    weights = path.with_suffix(".safetensors").name
    d = seeded_design(project)
    written = [export.write_text(path, script_source(d, export.class_name(project.name),
                                                     weights, data.name))]
    if saves_data(project.dataset, len(d.compiled.output_nodes) > 1):
        written.append(write_data(project.dataset, data))
    if d.trained:
        written.append(export.write_weights(path.with_name(start_file(weights)),
                                            d.state_dict()))
    return written
