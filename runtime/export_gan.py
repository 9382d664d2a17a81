"""The training script of a GAN project: generator and discriminator classes, the project's
data, and the loop of ``runtime/gan.py`` in one file that runs as ``python train.py`` and as
``torchrun --nproc_per_node N train.py``.

The script trains as Plexus does: per step the discriminator on real and generated samples
(one-sided label smoothing, an optional R1 penalty), every ``D_STEPS`` steps the generator with
the non-saturating loss, Adam with the GAN's beta1, the project's schedule per step. Each epoch
it prints the metrics Plexus shows (d_loss, g_loss, the discriminator's accuracy on real and on
generated samples, and modes_covered and high_quality_share for data with known modes or
sample_diversity for other data, measured on fixed noise) and keeps the best epoch's weights
(most modes covered, then the highest high-quality share; else the last epoch). With torchrun
both networks train with DistributedDataParallel and every process measures the same fixed
noise, so all take the same best-epoch decision; rank 0 saves the weights.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from graph.project import Project
from runtime import export
from runtime.export_blocks import STDLIB_IMPORTS, shared_blocks, training_seed_line
from runtime.export_data import data_source, merged_from, saves_data, write_data
from runtime.gan_networks import gan_groups, group_graph, known_modes
from runtime.gan_samples import COVERED_SHARE, diversity, mode_metrics

EVAL_SAMPLES, DIVERSITY_SAMPLES = 2500, 256  # as runtime.gan measures an epoch
_SCHEDULES = {
    "none": "None",
    "step": "torch.optim.lr_scheduler.StepLR(optimizer, STEP_SIZE, GAMMA)",
    "cosine": "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, total_steps))",
    "onecycle": "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=optimizer.param_groups"
                "[0][\"lr\"], total_steps=max(1, total_steps))",
}
_OPTIMIZERS = {
    "sgd": "torch.optim.SGD(params, lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)",
    "adam": "torch.optim.Adam(params, lr=lr, betas=(BETA1, 0.999), weight_decay=WEIGHT_DECAY)",
    "adamw": "torch.optim.AdamW(params, lr=lr, betas=(BETA1, 0.999), "
             "weight_decay=WEIGHT_DECAY)",
    "rmsprop": "torch.optim.RMSprop(params, lr=lr, momentum=MOMENTUM, "
               "weight_decay=WEIGHT_DECAY)",
}

_LOOP = '''

def make_optimizer(model: nn.Module, lr: float, total_steps: int) -> tuple[Any, Any]:
    """The optimizer of one network and its schedule (stepped with each of its updates)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = OPTIMIZER
    return optimizer, SCHEDULE


@torch.no_grad()
def measure(generator: nn.Module, noise: torch.Tensor, real: np.ndarray) -> dict[str, float]:
    """Metrics of the samples the generator makes from fixed noise, as Plexus measures them."""
    generator.eval()
    fake = generator(noise).float().cpu().numpy()
    generator.train()
    MEASURE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=DEVICE)
    args = parser.parse_args()

    distributed, rank, world, local_rank, device = start_processes(args.device)
    torch.manual_seed(TRAINING_SEED)
    train_set, _ = load_data()
    generator, discriminator = GENERATOR().to(device), DISCRIMINATOR().to(device)
    if START:
        generator.load_weights(G_START_FILE)
        discriminator.load_weights(D_START_FILE)
    gen, disc = generator, discriminator
    if distributed:
        ids = [local_rank] if device.type == "cuda" else None
        gen = DistributedDataParallel(generator, device_ids=ids)
        disc = DistributedDataParallel(discriminator, device_ids=ids)
    loader = DataLoader(train_set, batch_sampler=StepBatches(len(train_set), rank, world))
    d_total = args.epochs * len(loader)
    d_opt, d_schedule = make_optimizer(discriminator, D_LR, d_total)
    g_opt, g_schedule = make_optimizer(generator, G_LR, args.epochs * math.ceil(
        len(loader) / D_STEPS))
    noise_shape = tuple(GENERATOR.input_shapes[next(iter(GENERATOR.input_shapes))])
    fixed = torch.Generator().manual_seed(TRAINING_SEED + 1)
    eval_noise = torch.randn((EVAL_SAMPLES, *noise_shape), generator=fixed).to(device)
    index = np.linspace(0, len(train_set) - 1, min(REAL_SHOWN, len(train_set))).astype(int)
    real_shown = np.stack([train_set[int(i)][0].numpy() for i in index])
    bce = nn.functional.binary_cross_entropy_with_logits
    if rank == 0:
        print(f"training on {device} x {world}: {args.epochs} epochs of {len(loader)} steps, "
              f"{sum(p.numel() for p in generator.parameters()):,} generator and "
              f"{sum(p.numel() for p in discriminator.parameters()):,} discriminator "
              "parameters")

    best_key, best_epoch, best_state, best_metrics = None, 0, None, {}
    for epoch in range(1, args.epochs + 1):
        gen.train()
        disc.train()
        sums = torch.zeros(6, dtype=torch.float64, device=device)  # d, g, real, fake, n, g_n
        for step, (real, _labels) in enumerate(loader, start=1):
            real = real.to(device)
            n = real.shape[0]
            fake = gen(torch.randn((n, *noise_shape), device=device))
            d_opt.zero_grad(set_to_none=True)
            if R1:
                real = real.detach().requires_grad_(True)
            logits = disc(torch.cat([real, fake.detach()])).reshape(-1)
            targets = torch.cat([torch.full((n,), 1.0 - LABEL_SMOOTHING, device=device),
                                 torch.zeros(n, device=device)])
            d_loss = 2.0 * bce(logits, targets)  # mean over real + mean over fake
            sums[0] += d_loss.detach() * n
            if R1:  # keep D flat around real data (Mescheder et al. 2018)
                (grad,) = torch.autograd.grad(logits[:n].sum(), real, create_graph=True)
                d_loss = d_loss + R1 / 2 * grad.pow(2).flatten(1).sum(1).mean()
            d_loss.backward()
            GRAD_CLIP_Dd_opt.step()
            if d_schedule is not None:
                d_schedule.step()
            with torch.no_grad():
                sums[2] += (logits[:n] > 0).sum()
                sums[3] += (logits[n:] < 0).sum()
            sums[4] += n
            if step % D_STEPS == 0 or step == len(loader):
                g_opt.zero_grad(set_to_none=True)
                g_loss = bce(disc(fake).reshape(-1), torch.ones(n, device=device))
                g_loss.backward()
                GRAD_CLIP_Gg_opt.step()
                disc.zero_grad(set_to_none=True)  # the G step left gradients in D
                if g_schedule is not None:
                    g_schedule.step()
                sums[1] += g_loss.detach() * n
                sums[5] += n
        if distributed:
            dist.all_reduce(sums)
        d_sum, g_sum, real_ok, fake_ok, count, g_count = sums.tolist()
        metrics = {"d_loss": d_sum / max(1, count), "g_loss": g_sum / max(1, g_count),
                   "d_real_accuracy": real_ok / max(1, count),
                   "d_fake_accuracy": fake_ok / max(1, count),
                   **measure(generator, eval_noise, real_shown)}
        key = ((metrics["modes_covered"], metrics["high_quality_share"])
               if "modes_covered" in metrics else (float(epoch),))
        if best_key is None or key >= best_key:
            best_key, best_epoch, best_metrics = key, epoch, metrics
            best_state = [{k: v.detach().clone() for k, v in m.state_dict().items()}
                          for m in (generator, discriminator)]
        if rank == 0:
            print(f"epoch {epoch}/{args.epochs}  {metrics_text(metrics, '  ')}", flush=True)

    if best_state is not None:
        generator.load_state_dict(best_state[0])
        discriminator.load_state_dict(best_state[1])
    if rank == 0:
        save_weights(generator, G_WEIGHTS_FILE)
        save_weights(discriminator, D_WEIGHTS_FILE)
        print(f"best epoch {best_epoch}: {metrics_text(best_metrics, ', ')}; saved "
              f"{G_WEIGHTS_FILE} and {D_WEIGHTS_FILE}")
    if distributed:
        finish_processes(rank, world)


def metrics_text(metrics: dict[str, float], separator: str) -> str:
    """"d_loss 0.6931": every metric Plexus shows for a GAN epoch."""
    return separator.join(f"{name} {value:.4f}" if isinstance(value, float)
                          else f"{name} {value}" for name, value in metrics.items())


if __name__ == "__main__":
    main()
'''


def _network(project: Project, role: str, name: str, weights: str) -> tuple[list[str], bytes]:
    """The class source of one role group's network, and its state as safetensors bytes."""
    groups = dict(zip(("generator", "discriminator"), gan_groups(project.graph), strict=True))
    sub = dataclasses.replace(project, graph=group_graph(project.graph, groups[role]),
                              description=f"The {role} of the Plexus GAN project "
                                          f"'{project.name}'.")
    d = export.design(sub)
    lines = export.class_source(d, name)
    lines = [line.replace("path: str = WEIGHTS_FILE", f"path: str = {weights}") for line in lines]
    from runtime.compile import weights_to_bytes

    return lines, weights_to_bytes(d.state_dict()) if d.trained else b""


def _without_repeated_helpers(lines: list[str], seen: str) -> list[str]:
    """``lines`` without the helper classes (runtime.ops sources) already in ``seen``."""
    out: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line == "" and block:
            text = "\n".join(block)
            if not (block[0].startswith("class ") and text in seen):
                out += block + [""]
            block = []
        elif line != "" or block:
            block.append(line)
    return out


def gan_script(project: Project, stem: str, data_file: str) -> tuple[str, bytes, bytes]:
    """(script source, generator start weights, discriminator start weights) of a GAN project;
    the weights are empty when the project has none (the script starts from random ones)."""
    training, dataset = project.training, project.dataset
    options = training.options or {}
    try:
        gen_lines, g_start = _network(project, "generator", "Generator", "G_WEIGHTS_FILE")
        disc_lines, d_start = _network(project, "discriminator", "Discriminator",
                                       "D_WEIGHTS_FILE")
    except ValueError as exc:
        raise export.ExportError(f"cannot export '{project.name}': {exc}") from None
    disc_lines = _without_repeated_helpers(disc_lines, "\n".join(gen_lines))
    if training.optimizer not in _OPTIMIZERS:
        raise export.ExportError(f"training.optimizer {training.optimizer!r} is unknown; choose "
                                 "sgd, adam, adamw or rmsprop")
    data_consts, data_code, data_imports = data_source(dataset, data_file)
    modes = known_modes(dataset)

    def option(name: str, default: float) -> float:
        value = options.get(name)
        return float(default if value is None else value)

    lr = float(training.lr)
    consts = [
        "# -- settings of the Plexus project " + "-" * 60, *data_consts,
        f"EPOCHS = {int(training.epochs)}", f"BATCH_SIZE = {int(training.batch_size)}",
        training_seed_line(training),
        f"D_LR = {option('d_lr', lr)!r}", f"G_LR = {option('g_lr', lr)!r}",
        f"D_STEPS = {int(option('d_steps', 1))}  # discriminator updates per generator update",
        f"LABEL_SMOOTHING = {option('label_smoothing', 0.1)!r}  # real samples' target: 1 - it",
        f"BETA1 = {option('beta1', 0.5)!r}  # Adam's first momentum",
        f"R1 = {option('r1', 0.0)!r}  # weight of the R1 penalty on real samples; 0: off",
        f"MOMENTUM = {float(training.momentum)!r}",
        f"WEIGHT_DECAY = {float(training.weight_decay)!r}",
        f"STEP_SIZE = {int(training.step_size)}", f"GAMMA = {float(training.gamma)!r}",
        f"DEVICE = {export.literal(training.device)}",
        f"EVAL_SAMPLES = {EVAL_SAMPLES}  # generated samples measured each epoch (fixed noise)",
        f"REAL_SHOWN = {EVAL_SAMPLES if modes is not None else DIVERSITY_SAMPLES}",
    ]
    if training.grad_clip > 0:
        consts.append(f"GRAD_CLIP = {float(training.grad_clip)!r}")
    if modes is not None:
        consts += export.fit_line(f"MODE_CENTRES = {export.literal(modes[0].tolist())}")
        consts += [f"MODE_STD = {float(modes[1])!r}", f"COVERED_SHARE = {COVERED_SHARE!r}",
                   "Modes = tuple[np.ndarray, float]  # mode centres (k, 2), each mode's spread",
                   "ModeMetrics = dict[str, float]  # modes, modes_covered, high_quality_share"]
        measure = "return dict(mode_metrics(fake, (np.array(MODE_CENTRES), MODE_STD)))"
        helpers = inspect.getsource(mode_metrics)
    else:
        consts.append(f"DIVERSITY_SAMPLES = {DIVERSITY_SAMPLES}")
        measure = ("return {\"sample_diversity\": diversity(fake[:DIVERSITY_SAMPLES], "
                   "real[:DIVERSITY_SAMPLES])}")
        helpers = inspect.getsource(diversity)
    here = "os.path.join(os.path.dirname(os.path.abspath(__file__)), {!r})"
    for prefix, role in (("G", "generator"), ("D", "discriminator")):
        consts += export.fit_line(f"{prefix}_WEIGHTS_FILE = "
                                  + here.format(f"{stem}_{role}.safetensors"))
        consts += export.fit_line(f"{prefix}_START_FILE = "
                                  + here.format(f"{stem}_{role}_start.safetensors"))
    consts.append(f"START = {bool(g_start)}  # start from the project's weights (else random)")

    clip = "nn.utils.clip_grad_norm_({}.parameters(), GRAD_CLIP)\n            "
    loop = (_LOOP.replace("OPTIMIZER", _OPTIMIZERS[training.optimizer])
            .replace("SCHEDULE", _SCHEDULES.get(training.schedule, "None"))
            .replace("MEASURE", measure).replace("GENERATOR", "Generator")
            .replace("DISCRIMINATOR", "Discriminator"))
    loop = loop.replace("GRAD_CLIP_D", clip.format("discriminator") if training.grad_clip > 0
                        else "").replace("GRAD_CLIP_G", clip.format("generator")
                                         if training.grad_clip > 0 else "")
    header = [
        *export.wrap_text(f'"""Train the GAN of the Plexus project '
                          f"'{export.safe_text(project.name)}' on {dataset.name}."),
        "",
        "One process:        python train.py [--epochs N] [--device auto|cpu|cuda]",
        "Several processes:  torchrun --nproc_per_node N train.py",
        "Several machines:   torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d",
        "                    --rdzv-endpoint HOST:PORT train.py  (the same line on every machine)",
        "",
        *export.wrap_text(
            "With torchrun both networks train with DistributedDataParallel (nccl on CUDA GPUs, "
            "gloo on the CPU) and each process takes its share of every step's batch. Rank 0 "
            "saves the "
            f"weights of the best epoch to {stem}_generator.safetensors and "
            f"{stem}_discriminator.safetensors next to this file."
            + (f" It reads the data from {data_file}, which the export wrote beside it."
               if saves_data(dataset) else "")),
        '"""',
    ]
    imports = ["", "from __future__ import annotations", "",
               *sorted({*STDLIB_IMPORTS, *(i for i in data_imports if i.startswith("import "))}),
               *merged_from(["from collections.abc import Iterator",
                             "from typing import Any, ClassVar",
                             *(i for i in data_imports if i.startswith("from "))]),
               "", "import numpy as np", "import torch", "import torch.distributed as dist",
               "from torch import nn", "from torch.nn.parallel import DistributedDataParallel",
               "from torch.utils.data import DataLoader, Sampler, TensorDataset", ""]
    sections = [
        *header, *imports, *consts, "",
        "# -- the networks " + "-" * 78, *gen_lines, "", *disc_lines, "", "",
        "# -- data " + "-" * 86, data_code.strip("\n"), "", "",
        "# -- metrics and training " + "-" * 70, helpers.strip("\n"), "",
        *shared_blocks(),
        loop.strip("\n"),
    ]
    return export.join_lines(sections), g_start, d_start


def write_gan_script(project: Project, path: Path) -> list[Path]:
    """Write a GAN project's script, its data beside it, and its start weights if trained."""
    stem = path.stem
    data = path.with_name(f"{stem}_data.npz")
    text, g_start, d_start = gan_script(project, stem, data.name)
    written = [export.write_text(path, text)]
    if saves_data(project.dataset):
        written.append(write_data(project.dataset, data))
    for role, weights in (("generator", g_start), ("discriminator", d_start)):
        if weights:
            target = path.with_name(f"{stem}_{role}_start.safetensors")
            target.write_bytes(weights)
            written.append(target)
    return written
