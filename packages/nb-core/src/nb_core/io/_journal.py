"""Staged temporaries and the commit journal of an output set, and the recovery after a kill.

A staged file is ``.nb-partial.<pid>.<random>.<name>`` beside its target; a commit journal
``.nb-commit.<pid>.<random>`` in each folder of a set lists the ``temporary -> target`` pairs
while the renames run. :func:`recover_outputs` rolls forward the journals of processes that are
gone and deletes their temporaries (see :mod:`nb_core.io._outputs` for the whole protocol).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from pathlib import Path

from nb_core.io._atomic import PathLike

__all__ = [
    "JOURNAL_PREFIX",
    "OWN_FILES",
    "O_BINARY",
    "PARTIAL_PREFIX",
    "fsync_folder",
    "recover_outputs",
    "stage_file",
    "write_all",
    "write_journals",
]

#: Name prefix of a staged (not yet renamed) output file.
PARTIAL_PREFIX = ".nb-partial."
#: Name prefix of a commit journal.
JOURNAL_PREFIX = ".nb-commit."

_PARTIAL_RE = re.compile(r"\.nb-partial\.(\d+)\.[0-9a-f]{12}\.")
_JOURNAL_RE = re.compile(r"\.nb-commit\.(\d+)\.[0-9a-f]{12}\Z")
#: The flag that opens a file without newline translation where the platform has one.
O_BINARY = getattr(os, "O_BINARY", 0)
# Most bytes of the target's name kept in a temporary's name (file names stop at 255 bytes).
_NAME_KEEP = 180
#: Temporaries and journals this process has made and not yet renamed or removed.
OWN_FILES: set[Path] = set()


def _stale(pid: int, path: Path) -> bool:
    """Whether a leftover of process ``pid`` can go: that process is gone, or it is this one
    and the file is not one it is still working with (an earlier process had the same id)."""
    if pid == os.getpid():
        return path not in OWN_FILES
    return not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` exists on this machine (unknown counts as alive)."""
    if pid <= 0 or os.name == "nt":  # os.kill(pid, 0) on Windows would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _new_temp(folder: Path, name: str, mode: int = 0o666) -> tuple[Path, int]:
    """Create a fresh temporary ``.nb-partial.<pid>.<random>.<name>`` in ``folder``."""
    short = os.fsdecode(os.fsencode(name)[:_NAME_KEEP])
    for _ in range(100):
        token = secrets.token_hex(6)
        temp = folder / f"{PARTIAL_PREFIX}{os.getpid()}.{token}.{short}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, mode)
        except FileExistsError:
            continue
        OWN_FILES.add(temp)
        return temp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))  # pragma: no cover


def stage_file(final: Path, status: os.stat_result | None, data: bytes) -> Path:
    """Write ``data`` to a new temporary beside ``final``, flushed to disk; return its path."""
    temp, fd = _new_temp(final.parent, final.name)
    try:
        try:
            if status is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(status.st_mode))
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        OWN_FILES.discard(temp)
        raise
    return temp


def _roll_forward(journal: Path, pid: int) -> int:
    """Finish the renames a dead process's journal lists; return how many were done."""
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        pairs = [(Path(t), Path(f)) for t, f in record["pairs"]]
        journals = [Path(j) for j in record.get("journals", [])]
    except (OSError, ValueError, KeyError, TypeError):
        pairs, journals = [], []  # not a journal this module wrote: only remove it
    done = 0
    for temp, final in pairs:
        match = _PARTIAL_RE.match(temp.name)
        if match is None or int(match.group(1)) != pid or temp.parent != final.parent:
            continue  # only ever move the dead process's own temporaries within one folder
        with contextlib.suppress(OSError):
            os.replace(temp, final)
            done += 1
    for folder in {final.parent for _, final in pairs}:
        fsync_folder(folder)
    for other in (*journals, journal):
        if _JOURNAL_RE.match(other.name) and other.parent.is_dir():
            with contextlib.suppress(FileNotFoundError):
                other.unlink()
    return done


def recover_outputs(folder: PathLike) -> tuple[int, int]:
    """Tidy a folder after an ``nb`` process was killed while writing its outputs.

    Journals of dead processes are rolled forward first (their renames finished), then the
    temporaries of dead processes are deleted. Files of live processes are left alone. This is
    best effort: a leftover that cannot be renamed or removed (another user's) stays.

    Args:
        folder: The folder to tidy.

    Returns:
        ``(renamed, removed)``: files moved into place from journals, temporaries deleted.
    """
    where = Path(os.path.realpath(folder))
    try:
        names = sorted(os.listdir(where))
    except OSError:
        return 0, 0
    renamed = removed = 0
    for name in names:
        match = _JOURNAL_RE.match(name)
        if match is not None and _stale(int(match.group(1)), where / name):
            with contextlib.suppress(OSError):
                renamed += _roll_forward(where / name, int(match.group(1)))
    for name in names:
        match = _PARTIAL_RE.match(name)
        if match is not None and _stale(int(match.group(1)), where / name):
            with contextlib.suppress(OSError):
                (where / name).unlink()
                removed += 1
    return renamed, removed


def write_journals(pairs: list[tuple[Path, Path]]) -> list[Path]:
    """Write the commit journal into every folder of ``pairs``; return the journals' paths."""
    folders = sorted({final.parent for _, final in pairs})
    token = secrets.token_hex(6)
    journals = [f / f"{JOURNAL_PREFIX}{os.getpid()}.{token}" for f in folders]
    record = {
        "pid": os.getpid(),
        "pairs": [[str(t), str(f)] for t, f in pairs],
        "journals": [str(j) for j in journals],
    }
    text = (json.dumps(record, indent=1) + "\n").encode("utf-8")
    temp: Path | None = None
    try:
        for journal in journals:
            temp = stage_file(journal, None, text)
            OWN_FILES.add(journal)
            os.replace(temp, journal)
            OWN_FILES.discard(temp)
            temp = None
            fsync_folder(journal.parent)
    except BaseException:
        for path in (*journals, *([temp] if temp is not None else [])):
            with contextlib.suppress(OSError):
                path.unlink()
            OWN_FILES.discard(path)
        raise
    return journals
