"""The two networks of a GAN project: its generator and discriminator groups, compiled apart.

A GAN project marks two groups of its graph (roles declared in ``graph.roles``): the generator
(an Input of noise, layers, an Output with one sample) and the discriminator (an Input of one
sample, layers, an Output of one logit: real or fake). ``compile_gan`` compiles each group into
its own ``Compiled`` module; node ids are kept, so both networks' weights live in
``project.weights`` keyed by node id like any other project.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graph.model import Graph, Group
from graph.roles import GAN_ROLES, GROUP_ROLES
from runtime.compile import Compiled, compile_graph, load_node_state, node_state

Modes = tuple[np.ndarray, float]  # mode centres (k, d) and the spread of each mode


def gan_groups(graph: Graph) -> tuple[Group, Group]:
    """The generator and discriminator groups; ValueError says what to do when one is missing."""
    found = []
    for role in GAN_ROLES:
        group = graph.group_by_role(role)
        if group is None or not graph.group_members(group.id):
            raise ValueError(
                f"a GAN needs a {role} group: select the {role}'s layers, group them (Ctrl+G) "
                f"and set the group's role to {role} (right-click the group)")
        found.append(group)
    return found[0], found[1]


def group_graph(graph: Graph, group: Group) -> Graph:
    """The group's nodes and the edges between them, with their ids (weights stay keyed)."""
    members = set(graph.group_members(group.id))
    for edge in graph.edges:
        if edge.dst in members and edge.src not in members:
            inside, outside = graph.nodes[edge.dst], graph.nodes[edge.src]
            raise ValueError(
                f"{inside.label} in the {group.role or 'plain'} group '{group.name}' takes its "
                f"input from {outside.label} outside the group; each network of a GAN runs on its "
                "own, so move that layer into the group or remove the connection")
    return Graph.from_dict(graph.subgraph_dict(members), layout=None)


def compile_gan(project_or_graph: Any) -> tuple[Compiled, Compiled]:
    """(generator, discriminator) compiled from the two role groups; ValueError (one line,
    naming the group and node) when a group is not a complete network or they do not fit."""
    from runtime.shapes import analyze

    graph: Graph = getattr(project_or_graph, "graph", project_or_graph)
    compiled: list[Compiled] = []
    out_shapes: list[tuple[int, ...]] = []
    for group in gan_groups(graph):
        sub = group_graph(graph, group)
        where = f"{group.role} '{group.name}'"
        inputs, outputs = sub.nodes_of_type("Input"), sub.nodes_of_type("Output")
        if len(inputs) != 1 or len(outputs) != 1:
            role = GROUP_ROLES[group.role]
            raise ValueError(
                f"the {where} group has {len(inputs)} Input and {len(outputs)} Output nodes; "
                f"it needs exactly one of each (Input: {role.takes}, Output: {role.gives})")
        if inputs[0].param("dtype") != "float":
            raise ValueError(f"{inputs[0].label} of the {where} group must have dtype float")
        analysis = analyze(sub)
        for diag in analysis.diagnostics:
            if diag.severity == "error":
                raise ValueError(f"{where} group: {diag.message}")
        into = sub.in_edges(outputs[0].id)
        shape = analysis.shapes.edges.get(into[0]) if into else None
        out_shapes.append(tuple(shape[1:]) if shape is not None else ())
        compiled.append(compile_graph(sub))
    generator, discriminator = compiled
    sample = out_shapes[0]
    d_input = graph.nodes[discriminator.input_nodes[0]]
    d_shape = tuple(d_input.param("shape"))
    if sample != d_shape:
        raise ValueError(
            f"the generator makes samples of shape {_dims(sample)} but the discriminator's "
            f"{d_input.label} takes {_dims(d_shape)}; make them equal (a Reshape at the end "
            "of the generator, or the Input's shape)")
    if math.prod(out_shapes[1]) != 1:
        out = graph.nodes[discriminator.output_nodes[0]]
        raise ValueError(
            f"the discriminator's {out.label} gets {_dims(out_shapes[1])} values per sample; "
            "it must get one logit (end the discriminator with a Linear of 1 output)")
    return generator, discriminator


def _dims(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape)) if shape else "nothing"


def noise_shape(generator: Compiled) -> tuple[int, ...]:
    return tuple(generator.graph.nodes[generator.input_nodes[0]].param("shape"))


def sample_shape(discriminator: Compiled) -> tuple[int, ...]:
    return tuple(discriminator.graph.nodes[discriminator.input_nodes[0]].param("shape"))


def gan_state(generator: Compiled, discriminator: Compiled) -> dict[str, Tensor]:
    """Both networks' weights keyed "<node_id>.<param path>" (detached clones on the CPU)."""
    state = {**node_state(generator), **node_state(discriminator)}
    return {k: v.detach().to("cpu").clone() for k, v in state.items()}


def known_modes(dataset: Any) -> Modes | None:
    """Mode centres and spread of data sets that have them (gan_ring), else None."""
    if getattr(dataset, "name", "") == "gan_ring":
        from runtime.datasets.gan import ring_modes

        return ring_modes(dataset)
    return None


def prepare_gan(project: Any) -> tuple[Compiled, Compiled, Any]:
    """Compile both networks, load the data and the project's weights (seeded first, so fresh
    networks start the same every time); ValueError with a one-line message."""
    from runtime.compile import weights_from_bytes
    from runtime.data import load_dataset

    torch.manual_seed(project.training.seed)
    generator, discriminator = compile_gan(project)
    data = load_dataset(project.dataset)
    shape = sample_shape(discriminator)
    if tuple(data.input_shape) != shape:
        node = discriminator.graph.nodes[discriminator.input_nodes[0]]
        want = ", ".join(map(str, data.input_shape))
        raise ValueError(f"{node.label} of the discriminator has shape "
                         f"{', '.join(map(str, shape))} but dataset {data.name} gives samples "
                         f"of shape {want}; set the Input's shape to {want} and make the "
                         "generator's samples that shape too")
    if data.input_dtype != "float":
        raise ValueError(f"dataset {data.name} holds token ids; a GAN generates float samples")
    if project.weights:
        tensors = weights_from_bytes(project.weights)
        load_node_state(generator, tensors)
        load_node_state(discriminator, tensors)
    return generator, discriminator, data
