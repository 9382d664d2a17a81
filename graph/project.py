"""The .plexus project file: one zip with project.json and, once trained, weights.safetensors.

A project opens on any machine and never runs code: project.json is plain JSON and the
weights stay bytes here (``runtime`` turns them into tensors with safetensors, which holds no
code either). Every problem with a file becomes one ``ProjectError`` line that names the file
and says what is wrong, because users open files from mail, downloads and older versions.

Saving is atomic: the zip is written to a temporary file beside the target and renamed over
it, so a crash, a full disk or a failing serializer never leaves a half-written project and
the previous version stays intact.

Schema changes bump ``FORMAT_VERSION`` and add a step to ``_MIGRATIONS`` that upgrades the
previous version's project.json dict, so old files keep opening.

FORMAT: memory and time are bounded by what the file holds, never by what it claims. Members
are inflated in chunks and counted (``graph.limits``: at most 64 MB of project.json, 16 GB of
weights compressed at most 200 times); every count project.json declares (nodes, edges,
groups, node ids, name and text lengths, list parameters, history runs and records, options)
is checked against ``graph.limits`` before anything is built from it.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import math
import os
import re
import secrets
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

from graph import limits
from graph import settings as _settings
from graph.fields import SettingsError
from graph.model import Graph, GraphError
from graph.settings import DatasetSettings, TrainingSettings

FORMAT_VERSION = 2  # 2: groups may nest (a group's optional "parent")
PROJECT_MEMBER = "project.json"
WEIGHTS_MEMBER = "weights.safetensors"
TEMP_AGE_S = 60  # a save's temporary file older than this was left by a killed save


class ProjectError(Exception):
    """A project file that cannot be read or written; the message names the file."""


@dataclass
class Project:
    """Everything a .plexus file holds, as Python objects."""

    graph: Graph = field(default_factory=Graph)
    name: str = "untitled"
    description: str = ""
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    history: list[dict[str, Any]] = field(default_factory=list)  # training runs, oldest first
    weights: bytes | None = None  # a safetensors file; keys "<node_id>.<param path>"
    layout: dict[str, Any] = field(default_factory=dict)  # view state beyond node positions
    metadata: dict[str, Any] = field(default_factory=dict)  # app/torch versions, saved_at


# -- project.json ------------------------------------------------------------------------------
def app_version() -> str:
    """This Plexus' version, as installed (a source checkout that is not installed: "dev")."""
    try:
        return _metadata.version("plexus")
    except _metadata.PackageNotFoundError:
        return "dev"


def project_to_json(project: Project, saved_at: str | None = None) -> dict[str, Any]:
    """The project.json dict. ``saved_at`` (ISO date) defaults to now.

    Metadata keeps whatever the caller stored (runtime puts ``torch_version`` there, since
    graph/ cannot import torch); ``app_version`` and ``saved_at`` are filled in here. The dict
    shares history and layout values with ``project`` (no copy of long histories): serialize
    it, don't mutate it.
    """
    if saved_at is None:
        saved_at = _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")
    layout = {k: v for k, v in project.layout.items() if k != "positions"}
    return {
        "format_version": FORMAT_VERSION,
        "name": project.name,
        "description": project.description,
        "graph": project.graph.to_dict(),
        "layout": {"positions": project.graph.layout(), **layout},
        "dataset": _settings.to_dict(project.dataset),
        "training": _settings.to_dict(project.training),
        "history": project.history,
        "metadata": {**project.metadata, "app_version": app_version(), "saved_at": saved_at},
    }


def project_from_json(data: Any, source: str | os.PathLike[str] = "project.json") -> Project:
    """A Project from a project.json dict of any known format version (older ones migrated).

    ``source`` names the file in error messages. Weights are not part of the JSON; the caller
    attaches them. Raises ProjectError.
    """
    where = str(source)
    if not isinstance(data, dict):
        raise ProjectError(f"{where}: project.json must hold an object, not "
                           f"{_kind(data)}; the file is not a Plexus project")
    data = _migrate(data, where)
    try:
        limits.check_project_json(data)
    except limits.LimitError as exc:
        raise ProjectError(f"{where}: {exc}") from None

    graph_data = data.get("graph")
    if graph_data is None:
        raise ProjectError(f"{where}: project.json has no 'graph'; the file is not a complete "
                           "Plexus project")
    if not isinstance(graph_data, dict):
        raise ProjectError(f"{where}: 'graph' must be an object, not {_kind(graph_data)}")
    layout = _field(data, "layout", dict, {}, where)
    positions = layout.get("positions", {})
    if not isinstance(positions, dict):
        raise ProjectError(f"{where}: 'layout.positions' must be an object, not "
                           f"{_kind(positions)}")
    for key, pos in positions.items():
        if (not isinstance(pos, (list, tuple)) or len(pos) != 2
                or not all(_is_number(v) for v in pos)):
            raise ProjectError(f"{where}: 'layout.positions' of node {key} must be [x, y] "
                               f"numbers, not {pos!r}")
    try:
        graph = Graph.from_dict(graph_data, layout=positions)
    except GraphError as exc:
        raise ProjectError(f"{where}: graph: {exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, ArithmeticError) as exc:
        raise ProjectError(f"{where}: graph is malformed ({exc})") from None

    try:
        dataset = _settings.from_dict(DatasetSettings, data.get("dataset", {}), "dataset")
        training = _settings.from_dict(TrainingSettings, data.get("training", {}), "training")
    except SettingsError as exc:
        raise ProjectError(f"{where}: {exc}") from None

    history = _field(data, "history", list, [], where)
    for index, run in enumerate(history):
        if not isinstance(run, dict):
            raise ProjectError(f"{where}: history run {index + 1} must be an object, not "
                               f"{_kind(run)}")
        for key in ("epochs", "steps"):
            if key in run and not isinstance(run[key], list):
                raise ProjectError(f"{where}: history run {index + 1} field '{key}' must be "
                                   f"a list, not {_kind(run[key])}")

    return Project(
        graph=graph,
        name=_field(data, "name", str, "untitled", where),
        description=_field(data, "description", str, "", where),
        dataset=dataset,
        training=training,
        history=history,
        layout={k: v for k, v in layout.items() if k != "positions"},
        metadata=_field(data, "metadata", dict, {}, where),
    )


def _field(data: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = data.get(key, default)
    if not isinstance(value, kind):
        names = {str: "text", dict: "an object", list: "a list"}
        raise ProjectError(f"{where}: '{key}' must be {names.get(kind, kind.__name__)}, not "
                           f"{_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _is_number(value: Any) -> bool:
    """A finite JSON number that fits a float (huge ints would overflow float())."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) if isinstance(value, float) else abs(value) < 1e300


# -- migrations --------------------------------------------------------------------------------
def _migrate_0_to_1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 0 kept node positions in the graph nodes ("pos") and named the rate
    "learning_rate"; format 1 keeps positions in layout.positions and says "lr"."""
    data = dict(data)
    graph = data.get("graph")
    positions: dict[str, Any] = {}
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):
        nodes = []
        for raw in graph["nodes"]:
            if isinstance(raw, dict) and "pos" in raw:
                raw = dict(raw)
                positions[str(raw.get("id"))] = raw.pop("pos")
            nodes.append(raw)
        data["graph"] = {**graph, "nodes": nodes}
    layout = data.get("layout", {})
    if isinstance(layout, dict):
        old = layout.get("positions", {})
        data["layout"] = {**layout, "positions": {**positions,
                                                  **(old if isinstance(old, dict) else {})}}
    training = data.get("training")
    if isinstance(training, dict) and "learning_rate" in training:
        training = dict(training)
        rate = training.pop("learning_rate")
        training.setdefault("lr", rate)
        data["training"] = training
    data["format_version"] = 1
    return data


def _migrate_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 lets groups nest through an optional "parent"; format 1 groups are all at the
    top, which is what a group without "parent" means, so only the version changes."""
    return {**data, "format_version": 2}


# format version -> function turning that version's project.json dict into the next version's
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
}


def _migrate(data: dict[str, Any], where: str) -> dict[str, Any]:
    version = data.get("format_version")
    if version is None:
        raise ProjectError(f"{where}: project.json has no 'format_version'; the file is not a "
                           "Plexus project")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ProjectError(f"{where}: 'format_version' must be a whole number, not "
                           f"{version!r}")
    if version > FORMAT_VERSION:
        raise ProjectError(f"{where} was saved by a newer Plexus (format {version}); this "
                           f"version reads up to {FORMAT_VERSION}: update Plexus to open it")
    while version < FORMAT_VERSION:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"{where}: format {version} is too old for this Plexus to "
                               "upgrade; open and save it with an older version first")
        try:
            data = step(data)
        except Exception as exc:  # a migration meeting malformed data: still one line
            raise ProjectError(f"{where}: cannot upgrade from format {version} "
                               f"({type(exc).__name__}: {exc})") from None
        version += 1
    return data


# -- zip file ----------------------------------------------------------------------------------
def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` to ``path`` atomically; ProjectError (naming the file) on failure.

    Everything is serialized before the disk is touched, written to a temporary file in the
    same folder (so the rename cannot cross file systems), flushed to disk and renamed over
    the target. On any failure the temporary file is removed and the old file is unchanged.
    """
    path = Path(path)
    if path.is_symlink():  # replace the file the link points to, keep the link
        path = Path(os.path.realpath(path))
    weights = project.weights
    if weights is not None and not isinstance(weights, (bytes, bytearray, memoryview)):
        raise ProjectError(f"cannot save {path}: weights must be bytes of a safetensors file, "
                           f"not {type(weights).__name__}")
    content = project_to_json(project)
    try:
        limits.check_project_json(content)  # a file Plexus writes always opens again
    except limits.LimitError as exc:
        raise ProjectError(f"cannot save {path}: {exc}") from None
    try:
        text = json.dumps(content, indent=1, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProjectError(f"cannot save {path}: the project holds a value that JSON cannot "
                           f"store ({exc})") from None
    data = text.encode("utf-8")

    folder = path.parent
    remove_stale_temps(path)
    tmp = None
    try:
        fd, tmp = _create_temp(folder, path.name)
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w") as zf:
                zf.writestr(PROJECT_MEMBER, data, compress_type=zipfile.ZIP_DEFLATED)
                if weights is not None:
                    # Stored, not deflated: float weights barely compress and saving stays fast.
                    zf.writestr(WEIGHTS_MEMBER, bytes(weights), compress_type=zipfile.ZIP_STORED)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)  # keep the old file's permissions
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
        tmp = None
        _sync_folder(folder)
    except OSError as exc:
        raise ProjectError(f"cannot save {path}: {_os_problem(exc)}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def remove_stale_temps(path: str | os.PathLike[str], older_than_s: float = TEMP_AGE_S
                       ) -> list[Path]:
    """Delete the temporary files a killed save of ``path`` left beside it; the removed paths.

    Only names of exactly the form ``_create_temp`` makes (``.NAME.<8 hex>.tmp``) and only
    files older than ``older_than_s``, so a save running in another window is never touched.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{8}}\.tmp")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) \
                    and now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _create_temp(folder: Path, name: str) -> tuple[int, str]:
    """A new file beside the target, created with the umask's usual permissions."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                           0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not pick a temporary file name", str(folder))


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a .plexus file; ProjectError naming the file on any problem. Never runs code."""
    where = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ProjectError(f"{where} is not a Plexus project (not a zip archive, or a damaged "
                           "one); open a .plexus file") from None
    except OSError as exc:
        raise ProjectError(f"cannot open {where}: {_os_problem(exc)}") from None
    except (ValueError, EOFError, RuntimeError, struct.error) as exc:  # zipfile giving up
        raise ProjectError(f"{where} is a damaged zip archive ({exc})") from None
    with zf:
        raw = _read_member(zf, PROJECT_MEMBER, limits.MAX_JSON_BYTES, where, required=True)
        assert raw is not None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{where}: project.json is not UTF-8 text (byte {exc.start}); "
                               "the file is damaged") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProjectError(f"{where}: project.json is not valid JSON (line {exc.lineno}, "
                               f"column {exc.colno}: {exc.msg})") from None
        except RecursionError:
            raise ProjectError(f"{where}: project.json is nested too deeply to be a Plexus "
                               "project") from None
        except ValueError as exc:  # e.g. a number with more digits than Python converts
            raise ProjectError(f"{where}: project.json holds a value Plexus cannot read "
                               f"({exc})") from None
        project = project_from_json(data, where)
        weights = _read_member(zf, WEIGHTS_MEMBER, limits.MAX_WEIGHTS_BYTES, where, required=False)
        if weights is not None:
            _check_safetensors(weights, where)
        project.weights = weights
    return project


def _read_member(zf: zipfile.ZipFile, member: str, limit: int, where: str,
                 required: bool) -> bytes | None:
    """The member's bytes; a declared size past ``limit`` is refused, and memory stays
    bounded by that size whatever the compressed stream really holds (``_read_chunked``)."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        if required:
            raise ProjectError(f"{where} has no {member} inside; it is not a Plexus project "
                               "(or was packed by hand without it)") from None
        return None
    if info.file_size > limit:
        raise ProjectError(f"{where}: {member} would unpack to {_size(info.file_size)}, more "
                           f"than the {_size(limit)} a project may hold; refusing to open it")
    if (member == WEIGHTS_MEMBER and info.file_size > limits.MAX_JSON_BYTES
            and info.file_size > limits.MAX_WEIGHTS_RATIO * max(info.compress_size, 1)):
        ratio = info.file_size // max(info.compress_size, 1)
        raise ProjectError(f"{where}: {member} is compressed {ratio} times, which real weights "
                           "never are; refusing to unpack it")
    try:
        return _read_chunked(zf, info)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error) as exc:
        raise ProjectError(f"{where}: {member} is damaged ({exc}); the file was cut short or "
                           "corrupted") from None
    except NotImplementedError as exc:
        raise ProjectError(f"{where}: {member} uses an unsupported compression ({exc})") \
            from None
    except RuntimeError as exc:  # encrypted members
        raise ProjectError(f"{where}: {member} cannot be read ({exc})") from None
    except OSError as exc:
        raise ProjectError(f"cannot read {where}: {_os_problem(exc)}") from None


def _read_chunked(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Inflate ``info`` a chunk at a time. ``ZipFile.read`` inflates the whole compressed
    stream in one call before anything is checked (a 2 MB stream can give gigabytes); in
    chunks, zipfile stops at the declared size, which ``_read_member`` checked, and a stream
    that goes on past it ends in a CRC error after at most one more chunk."""
    out = bytearray()
    with zf.open(info) as stream:
        while chunk := stream.read(limits.UNPACK_CHUNK):
            out += chunk
    return bytes(out)


def _check_safetensors(data: bytes, where: str) -> None:
    """Cheap sanity check of the safetensors framing; runtime.weights_check checks tensors."""
    if len(data) < 8:
        raise ProjectError(f"{where}: {WEIGHTS_MEMBER} is too short to hold weights "
                           f"({len(data)} bytes); the file is damaged")
    (header,) = struct.unpack("<Q", data[:8])
    if header > limits.MAX_SAFETENSORS_HEADER or 8 + header > len(data) or data[8:9] != b"{":
        raise ProjectError(f"{where}: {WEIGHTS_MEMBER} is not a safetensors file (header of "
                           f"{header} bytes in {len(data)}); the file is damaged")


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file or folder not found"
    if isinstance(exc, PermissionError):
        return "permission denied; choose another place or check the file's permissions"
    if isinstance(exc, IsADirectoryError):
        return "that is a folder, not a project file"
    if exc.errno == errno.ENOSPC:
        return "the disk is full; free some space and save again"
    return exc.strerror or str(exc)


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} GB"
