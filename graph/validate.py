"""Structural and parameter checks of a graph, as diagnostics the editor can draw on nodes.

Validation never raises for a bad design: a saved graph with problems still opens, and every
problem becomes a ``Diagnostic`` that names the node and says what to do. Shape problems are
found later, by ``runtime.shapes`` (it runs the layers on the meta device).

Fast enough to run after every edit (a 1000-node design takes milliseconds): catalog lookups
are cached per layer type, reachability walks plain adjacency lists, and networkx is asked for
strongly connected components only among the nodes Kahn's algorithm could not order, i.e. only
when there is a cycle to explain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graph import catalog
from graph.model import Edge, Graph, Node

if TYPE_CHECKING:
    import networkx as nx

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: ``node_id`` / ``edge`` say where the editor outlines it (None: the graph)."""

    severity: str  # "error" | "warning"
    message: str
    node_id: int | None = None
    edge: Edge | None = None
    # The node whose error explains this one (a layer after an unplugged input is not reached
    # because of it): the Problems panel lists it under that error, not as a problem of its own.
    cause: int | None = None
    fix: str | None = None  # a one-click fix the editor offers (runtime.head_shapes names them)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic blocks compiling and training (warnings do not)."""
    return any(d.severity == ERROR for d in diags)


@dataclass
class ValidationMemo:
    """What the last ``validate`` of one design found, so the editor's next run after an edit
    re-checks only the nodes whose revision moved and, when no wire, name or type changed,
    reuses the structural checks (a 5,000-layer design took ~100 ms to check whole)."""

    nodes: dict[int, tuple[int, list[Diagnostic]]] = field(default_factory=dict)
    structure: tuple[tuple[object, ...], list[Diagnostic]] | None = None


def validate(graph: Graph, memo: ValidationMemo | None = None) -> list[Diagnostic]:
    """Every structural and parameter problem of ``graph``, sorted by node id.

    Graph-wide diagnostics (no Input, no Output) come first; within one node errors come
    before warnings, otherwise in the order of the checks below. ``memo`` (the editor's)
    keeps per-node and structural findings between runs; the result is the same without it.
    """
    nodes = graph.nodes
    specs = {t: catalog.get(t) for t in {n.type for n in nodes.values()}}
    if memo is None:
        out: list[Diagnostic] = []
        _check_types_and_params(nodes.values(), specs, out)
    else:
        out = _node_checks_memoized(graph, specs, memo)
    if memo is None:
        out += _structural_checks(graph, specs)
    else:
        key = (tuple(graph.edges), tuple((i, n.type, n.name) for i, n in nodes.items()))
        if memo.structure is None or memo.structure[0] != key:
            memo.structure = (key, _structural_checks(graph, specs))
        out += memo.structure[1]
    if graph.groups:
        _check_groups(graph, out)

    rank = {ERROR: 0, WARNING: 1}
    out.sort(key=lambda d: (-1 if d.node_id is None else d.node_id, rank.get(d.severity, 2)))
    return out


def _node_checks_memoized(graph: Graph, specs: Specs, memo: ValidationMemo) -> list[Diagnostic]:
    """``_check_types_and_params`` of every node, re-run only where the node's revision moved."""
    out: list[Diagnostic] = []
    kept: dict[int, tuple[int, list[Diagnostic]]] = {}
    for node_id, node in graph.nodes.items():
        revision = graph.node_revision(node_id)
        found = memo.nodes.get(node_id)
        if found is None or found[0] != revision:
            found = (revision, [])
            _check_types_and_params((node,), specs, found[1])
        kept[node_id] = found
        out += found[1]
    memo.nodes = kept  # deleted nodes drop out
    return out


def _structural_checks(graph: Graph, specs: Specs) -> list[Diagnostic]:
    """Names, wires, empty inputs, cycles and reachability: what depends on the wiring, the
    names and the types, not on parameters."""
    out: list[Diagnostic] = []
    nodes = graph.nodes
    _check_names(nodes.values(), out)
    valid_edges = _check_edges(graph, specs, out)
    unplugged = _check_inputs_connected(nodes, specs, valid_edges, out)

    succ: dict[int, list[int]] = {i: [] for i in nodes}
    pred: dict[int, list[int]] = {i: [] for i in nodes}
    for e in valid_edges:
        succ[e.src].append(e.dst)
        pred[e.dst].append(e.src)
    _check_cycles(nodes, succ, pred, out)
    _check_reachability(graph, valid_edges, unplugged, out)
    return out


# -- checks -------------------------------------------------------------------------------------
Specs = dict[str, "catalog.LayerSpec | None"]


def _check_types_and_params(nodes: Iterable[Node], specs: Specs, out: list[Diagnostic]) -> None:
    for node in nodes:
        spec = specs[node.type]
        if spec is None:
            out.append(Diagnostic(
                ERROR, f"{node.label}: unknown layer type '{node.type}' (made by a newer "
                "Plexus or a typo); delete the node or replace it with a layer from the palette",
                node.id))
            continue
        params = node.params
        for param in spec.params:
            value = params.get(param.name, param.default)
            problem = param.check(value)
            if problem:
                problem = problem.removeprefix("each value ")
                out.append(Diagnostic(
                    ERROR, f"{node.label}: {_lower(param.title)} {problem}, not "
                    f"{_show(value)}; change it in the inspector", node.id))
        names = _param_names(spec)
        extra = [k for k in params if k not in names]
        for name in sorted(extra, key=str) if extra else ():
            out.append(Diagnostic(
                WARNING, f"{node.label}: unknown parameter '{name}' is ignored; remove it "
                f"(a {node.type} layer has no such setting)", node.id))
        lr_mult = node.lr_mult
        if lr_mult != 1.0 and (isinstance(lr_mult, bool) or not isinstance(lr_mult, (int, float))
                               or not 0 <= lr_mult <= 1e6):
            out.append(Diagnostic(
                ERROR, f"{node.label}: learning-rate multiplier must be a number from 0 to "
                f"1000000, not {_show(lr_mult)}; change it in the inspector", node.id))


_PARAM_NAMES: dict[str, frozenset[str]] = {}


def _param_names(spec: catalog.LayerSpec) -> frozenset[str]:
    names = _PARAM_NAMES.get(spec.id)
    if names is None:
        names = _PARAM_NAMES[spec.id] = frozenset(p.name for p in spec.params)
    return names


def _check_names(nodes: Iterable[Node], out: list[Diagnostic]) -> None:
    by_name: dict[str, list[Node]] = defaultdict(list)
    for node in nodes:
        if not isinstance(node.name, str) or not node.name.strip():
            out.append(Diagnostic(
                ERROR, f"{node.type} node {node.id} has no name; give it a name in the "
                "inspector", node.id))
        else:
            by_name[node.name].append(node)
    for same in by_name.values():
        if len(same) < 2:
            continue
        for node in same:
            others = ", ".join(f"{o.type} (node {o.id})" for o in same if o is not node)
            out.append(Diagnostic(
                ERROR, f"{node.label}: the name is also used by {others}; rename one of them "
                "so every node has its own name", node.id))


def _check_edges(graph: Graph, specs: Specs, out: list[Diagnostic]) -> list[Edge]:
    """Report bad edges; return the edges between existing nodes and known ports."""
    nodes = graph.nodes
    ports = {t: None if s is None else {"output": [p.name for p in s.outputs],
                                         "input": [p.name for p in s.inputs]}
             for t, s in specs.items()}
    valid: list[Edge] = []
    into: dict[tuple[int, str], list[Edge]] = {}
    for edge in sorted(graph.edges):
        src, dst = nodes.get(edge.src), nodes.get(edge.dst)
        if src is None or dst is None:
            missing = " and ".join(str(i) for i in (edge.src, edge.dst) if i not in nodes)
            where = dst if src is None else src
            end = f" (at {where.label})" if where is not None else ""
            out.append(Diagnostic(
                ERROR, f"a connection {edge.src} -> {edge.dst}{end} names node {missing}, "
                "which does not exist; delete the connection",
                where.id if where is not None else None, edge))
            continue
        ok = True
        for node, port, side, way, other in ((src, edge.src_port, "output", "to", dst),
                                             (dst, edge.dst_port, "input", "from", src)):
            names = ports[node.type]
            if names is not None and port not in names[side]:
                out.append(Diagnostic(
                    ERROR, f"{node.label} has no {side} port '{port}' {_ports(names[side])}; "
                    f"delete the connection {way} {other.label}", node.id, edge))
                ok = False
        if ok:
            valid.append(edge)
            key = (edge.dst, edge.dst_port)
            if key in into:
                into[key].append(edge)
            else:
                into[key] = [edge]
    for (dst_id, port), edges in into.items():
        if len(edges) < 2:
            continue
        dst = nodes[dst_id]
        sources = ", ".join(nodes[e.src].label for e in edges)
        for edge in edges[1:]:
            out.append(Diagnostic(
                ERROR, f"input '{port}' of {dst.label} has {len(edges)} connections (from "
                f"{sources}); an input takes one, so remove all but one or merge them with "
                "an Add or Concat layer", dst_id, edge))
    return valid


def _check_inputs_connected(nodes: dict[int, Node], specs: Specs, edges: list[Edge],
                            out: list[Diagnostic]) -> list[int]:
    """Errors for required inputs left empty; returns those nodes (root causes of the
    reachability warnings around them)."""
    unplugged: list[int] = []
    connected = {(e.dst, e.dst_port) for e in edges}
    required = {t: [p.name for p in s.inputs if not p.optional] for t, s in specs.items() if s}
    for node in nodes.values():
        for port in required.get(node.type, ()):
            if (node.id, port) not in connected:
                out.append(Diagnostic(
                    ERROR, f"input '{port}' of {node.label} is not connected; drag a "
                    "connection to it from a layer's output", node.id))
                if not unplugged or unplugged[-1] != node.id:
                    unplugged.append(node.id)
    return unplugged


def _check_cycles(nodes: dict[int, Node], succ: dict[int, list[int]],
                  pred: dict[int, list[int]], out: list[Diagnostic]) -> None:
    # Kahn's algorithm peels off every node that is not on or behind a cycle; only when some
    # remain is networkx asked for the strongly connected components among them.
    indegree = {i: len(p) for i, p in pred.items()}
    ready = [i for i, d in indegree.items() if d == 0]
    while ready:
        u = ready.pop()
        for v in succ[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    left = [i for i, d in indegree.items() if d > 0]
    if not left:
        return
    import networkx as nx  # only when there is a cycle to explain (it takes long to import)

    g = nx.DiGraph()
    g.add_nodes_from(left)
    g.add_edges_from((u, v) for u in left for v in succ[u] if v in indegree and indegree[v] > 0)
    for component in sorted(nx.strongly_connected_components(g), key=min):
        if len(component) == 1:
            (only,) = component
            if not g.has_edge(only, only):
                continue
        path = _cycle_order(g, component)
        names = " -> ".join(nodes[i].label for i in [*path, path[0]])
        extra = sorted(component - set(path))
        if extra:
            names += "; also on a cycle with them: " + ", ".join(nodes[i].label for i in extra)
        for node_id in sorted(component):
            out.append(Diagnostic(
                ERROR, f"{nodes[node_id].label} is on a cycle: {names}; networks must flow one "
                "way, so remove one of these connections", node_id))


def _cycle_order(g: nx.DiGraph, component: set[int]) -> list[int]:
    """One cycle through the smallest id of a strongly connected component, in flow order."""
    start = min(component)
    # Breadth-first search inside the component for the shortest way back to ``start``.
    parent: dict[int, int] = {start: start}
    frontier = [start]
    while frontier:
        following = []
        for u in frontier:
            for v in sorted(g.successors(u)):
                if v == start:
                    path = [u]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if v in component and v not in parent:
                    parent[v] = u
                    following.append(v)
        frontier = following
    return sorted(component)  # unreachable for a real component; keeps the message whole


def _root_causes(graph: Graph, edges: list[Edge], unplugged: list[int]
                 ) -> tuple[dict[int, int], dict[int, int]]:
    """(node -> unplugged node it comes after, node -> unplugged node it leads to): the nodes
    whose reachability warning is only a consequence of that node's empty input.

    With a single unplugged node, the dead end fed by an Input (the layers whose wire to it was
    deleted) is its consequence too: plugging them into it fixes both. A node with no wire
    is left alone (a spare Input is a problem of its own).
    """
    after = {root: root for root in unplugged}  # a root's own warnings go under itself
    before = dict(after)
    for root in sorted(unplugged):  # the same causes whatever order the nodes were stored in
        for node_id in graph.reached_from([root], edges):
            after.setdefault(node_id, root)
        for node_id in graph.leading_to([root], edges):
            before.setdefault(node_id, root)
    if len(unplugged) == 1:
        inputs = [n.id for n in graph.nodes.values() if n.type == "Input"]
        wired = {e.src for e in edges} | {e.dst for e in edges}  # a lone node: its own
        for node_id in (graph.reached_from(inputs, edges) & wired) - after.keys():
            before.setdefault(node_id, unplugged[0])
    return after, before


def _check_reachability(graph: Graph, edges: list[Edge], unplugged: list[int],
                        out: list[Diagnostic]) -> None:
    nodes = graph.nodes
    after, before = _root_causes(graph, edges, unplugged)
    inputs = [n.id for n in nodes.values() if n.type == "Input"]
    outputs = [n.id for n in nodes.values() if n.type == "Output"]
    if not inputs:
        out.append(Diagnostic(ERROR, "the network has no Input node; add one from the palette "
                              "(Input / Output) and connect it to the first layer"))
    if not outputs:
        out.append(Diagnostic(ERROR, "the network has no Output node; add one from the palette "
                              "(Input / Output) and connect the last layer to it"))
    if inputs:
        # sources (a Learned tensor: no input ports, or none connected) run without an Input
        sources = [n.id for n in nodes.values() if n.spec is not None
                   and all(p.optional for p in n.spec.inputs)]
        fed = graph.reached_from(inputs + sources, edges)
        for node_id in sorted(set(nodes) - fed):
            out.append(Diagnostic(
                WARNING, f"{nodes[node_id].label} is not reached from any Input, so it never "
                "runs; connect it or delete it", node_id, cause=after.get(node_id)))
    if outputs:
        used = graph.leading_to(outputs, edges)
        for node_id in sorted(set(nodes) - used):
            node = nodes[node_id]
            what = "its data is" if node.type == "Input" else "its result is"
            out.append(Diagnostic(
                WARNING, f"{node.label} does not lead to any Output, so {what} never used; "
                "connect it or delete it", node_id, cause=before.get(node_id)))


def _check_groups(graph: Graph, out: list[Diagnostic]) -> None:
    """A node belongs to one innermost group; a role (GAN generator, discriminator) to one
    group; a group's parent exists and nesting never loops back.

    The editor never makes any of these; a hand-edited or merged file can, and still opens.
    """
    _check_nesting(graph, out)
    owners: dict[int, list[str]] = defaultdict(list)
    for group in graph.groups.values():
        for node_id in graph.direct_members(group.id):
            owners[node_id].append(group.name)
    for node_id, names in sorted(owners.items()):
        if len(names) > 1:
            listed = ", ".join(f"'{n}'" for n in names)
            out.append(Diagnostic(
                ERROR, f"{graph.nodes[node_id].label} is in {len(names)} groups ({listed}); a "
                "layer belongs to one group, so ungroup it from the others", node_id))
    by_role: dict[str, list[str]] = defaultdict(list)
    for group in graph.groups.values():
        if group.role:
            by_role[group.role].append(group.name)
    for role, names in sorted(by_role.items()):
        if len(names) > 1:
            listed = ", ".join(f"'{n}'" for n in names)
            out.append(Diagnostic(
                ERROR, f"groups {listed} are all marked {role}; a project has one {role}, so "
                "clear the role of the others"))


def _check_nesting(graph: Graph, out: list[Diagnostic]) -> None:
    """Each group's parent names an existing group, and following parents ends at the top."""
    looped: set[str] = set()
    for group in graph.groups.values():
        if group.parent and group.parent not in graph.groups:
            out.append(Diagnostic(
                ERROR, f"group '{group.name}' sits in group id {group.parent!r}, which does not "
                "exist; ungroup it or fix the file"))
            continue
        seen = [group.id]
        parent = group.parent
        while parent in graph.groups and parent not in seen:
            seen.append(parent)
            parent = graph.groups[parent].parent
        if parent == group.id and group.id not in looped:
            cycle = seen[:]
            looped.update(cycle)
            listed = " in ".join(f"'{graph.groups[g].name}'" for g in [*cycle, group.id])
            out.append(Diagnostic(
                ERROR, f"groups nest in a circle ({listed}); a group cannot sit inside "
                "itself, so ungroup one of them"))


# -- wording ------------------------------------------------------------------------------------
def _lower(title: str) -> str:
    """"Kernel size" -> "kernel size", but keep acronyms ("LR") as they are."""
    if len(title) > 1 and title[1].isupper():
        return title
    return title[:1].lower() + title[1:]


def _show(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return " x ".join(map(str, value)) if value else "empty"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _ports(names: Iterable[str]) -> str:
    names = list(names)
    if not names:
        return "(it has no ports on that side)"
    return "(it has " + ", ".join(f"'{n}'" for n in names) + ")"
