"""An exclusive lock on a file that lasts as long as the process holding it.

The editor marks what one running instance owns (its recovery file) with such a lock: the
operating system lets go of it when the process ends, however it ends (a crash, kill -9, a
power cut), so a file whose lock anyone can take belongs to nobody. The lock is ``flock`` on
Linux and macOS and ``msvcrt.locking`` on Windows; where the file system refuses both (some
network shares) the lock file's process id stands in: the lock is held while that process runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # Linux, macOS
    msvcrt = None  # type: ignore[assignment]

_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, getattr(errno, "EDEADLK", -1))


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (never signals it: on Windows ``os.kill`` would end it)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _os_lock(fd: int) -> bool | None:
    """Take the OS lock on ``fd`` without waiting: True taken, False held by another, None
    when this file system cannot lock."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif msvcrt is not None:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            return None
    except OSError as exc:
        return False if exc.errno in _BUSY else None
    return True


class FileLock:
    """An exclusive lock on ``path``, held from ``acquire`` until ``release`` or the end of
    this process. The file holds the owner's process id (for people, and for the fallback)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path, new: bool = False) -> FileLock | None:
        """The lock on ``path`` (created if missing), or None while another process (or
        another ``FileLock`` of this one) holds it. ``new``: the file must not exist yet
        (raises FileExistsError), which makes the name this caller's alone."""
        flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if new else 0)
        fd = os.open(path, flags, 0o600)
        taken = _os_lock(fd)
        if taken is None:  # no OS locks here: the recorded process id decides
            taken = new or not pid_alive(_read_pid(fd))
        if not taken:
            os.close(fd)
            return None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, str(os.getpid()).encode("ascii"))
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, remove: bool = False) -> None:
        """Let go of the lock; ``remove`` deletes the lock file too (while still holding it
        where the system allows, so nobody locks a file that is about to go)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if remove and os.name != "nt":
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(fd)  # the OS lock goes with the descriptor
        if remove and os.name == "nt":  # Windows cannot delete an open file
            with contextlib.suppress(OSError):
                self.path.unlink()


def _read_pid(fd: int) -> int:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode("ascii").strip() or 0)
    except (OSError, ValueError):
        return 0
