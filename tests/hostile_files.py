"""Hostile .plexus files built in memory for the hardening tests: a valid project to start
from, zips whose headers lie about their members, and safetensors bytes written by hand."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from graph.model import Edge, Graph
from graph.project import Project, ProjectError, load_project, project_to_json

DEFLATED, STORED = 8, 0


def small_graph() -> Graph:
    """Input(1x4x4) -> Conv2d(2 filters, 3x3) -> Flatten -> Linear(3) -> Output."""
    graph = Graph()
    x = graph.add_node("Input", params={"shape": (1, 4, 4)}, name="x")
    conv = graph.add_node("Conv2d", params={"out_channels": 2, "kernel_size": (3, 3)},
                          name="conv1")
    flat = graph.add_node("Flatten", name="flat")
    fc = graph.add_node("Linear", params={"out_features": 3}, name="fc")
    out = graph.add_node("Output", params={"task": "classification"}, name="y")
    for a, b in ((x, conv), (conv, flat), (flat, fc), (fc, out)):
        graph.connect(Edge(a.id, "out", b.id, "in"))
    return graph


def valid_json() -> dict[str, Any]:
    return project_to_json(Project(graph=small_graph(), name="hostile"),
                           saved_at="2026-01-01T00:00:00")


def deflate_zeros(total: int, block: int = 16 << 20) -> bytes:
    """A raw deflate stream of ``total`` zero bytes (rounded down to ``block``), built in a
    fraction of a second: one fully flushed block repeated, then the final block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    part = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return part * max(1, total // block) + compressor.flush()


def lying_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip of (name, stored payload, declared size, method, CRC) members whose headers
    claim ``declared size`` whatever the payload inflates to."""
    body, central = b"", b""
    for name, payload, claimed, method, crc in members:
        raw = name.encode()
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(payload),
                            claimed, len(raw), 0) + raw + payload
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                               len(payload), claimed, len(raw), 0, 0, 0, 0, 0, offset) + raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(body), 0)
    return body + central + end


def bomb_project(path: Path, expanded: int = 1900 << 20, claimed: int = 4096) -> Path:
    """A ~2 MB project whose project.json inflates to ``expanded`` bytes, its headers
    claiming ``claimed``."""
    path.write_bytes(lying_zip([("project.json", deflate_zeros(expanded), claimed, DEFLATED,
                                 0)]))
    return path


def safetensors_bytes(header: dict[str, Any], data: bytes = b"") -> bytes:
    """A safetensors file from its JSON header and data, nothing checked."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def project_zip(path: Path, data: dict[str, Any] | None = None,
                weights: bytes | None = None) -> Path:
    """A .plexus file of ``data`` (default: ``valid_json()``) and optional weights bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.json", json.dumps(data if data is not None else valid_json()))
        if weights is not None:
            zf.writestr("weights.safetensors", weights, compress_type=zipfile.ZIP_STORED)
    path.write_bytes(buffer.getvalue())
    return path


def error_of(path: Path) -> str:
    """The one-line error loading ``path`` raises; it names the file."""
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message
