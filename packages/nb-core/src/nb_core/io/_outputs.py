"""The outputs of a run written as one set: every new file appears, or none does.

:class:`OutputSet` stages each file in a temporary next to its target, named
``.nb-partial.<pid>.<random>.<name>``, and renames the temporaries into place only once all of
them are written and flushed to disk. Any failure before that point (an exception, a full disk,
SIGINT or SIGTERM when the set is asked to catch signals) removes the temporaries and leaves
every target as it was.

The renames themselves are made safe against a hard kill (``kill -9``, a power cut) by a commit
journal: before the first rename a small file ``.nb-commit.<pid>.<random>`` listing the
``temporary -> target`` pairs is written into each folder of the set, and it is deleted after
the last rename. :func:`recover_outputs`, which the set runs on every folder it writes into,
finishes the renames of a journal whose process is gone (rolls it forward) and then deletes the
temporaries that dead processes left. A process counts as gone when no process with its id
exists on this machine; files of other machines sharing the folder are not told apart.

What kind of file a target is decides how it is written:

- A regular file (or a name that does not exist yet) is replaced atomically by the rename; an
  existing file's permission bits are kept.
- A FIFO or a character or block device (``/dev/null``, a pipe a viewer reads from) is opened for
  writing and written directly, as the C program's ``fopen(name, "wb")`` does; it is never
  replaced and is not part of the rename commit. Its bytes are written when the set commits,
  before the renames, so a failure earlier in the set sends nothing to it.
- A symbolic link is written through, as ``fopen`` follows it: the file at the end of the link
  (resolved with :func:`os.path.realpath`) is the target, replaced atomically in its own
  folder, and the link stays. A dangling link creates the file it names.

A hard link to a target is not written through: the replaced name gets a new file and the other
names keep the old one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, _reason
from nb_core.io._journal import (
    JOURNAL_PREFIX,
    O_BINARY,
    OWN_FILES,
    PARTIAL_PREFIX,
    fsync_folder,
    recover_outputs,
    stage_file,
    write_all,
    write_journals,
)

__all__ = [
    "JOURNAL_PREFIX",
    "PARTIAL_PREFIX",
    "OutputSet",
    "OutputsInterrupted",
    "check_outputs",
    "recover_outputs",
    "write_output",
]

_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class OutputsInterrupted(KeyboardInterrupt):
    """A signal arrived while an :class:`OutputSet` was being written; nothing was changed.

    Args:
        signum: The signal number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum} while writing the outputs")
        self.signum = signum


@dataclass
class _Staged:
    """One output of a set: where it goes and how far it got."""

    target: Path  # the path as the caller named it
    final: Path  # the file that is replaced or written (links resolved)
    temp: Path | None  # the staged temporary (replaced targets only)
    data: bytes | None  # the bytes of a direct target (a FIFO or device), written at commit


def _kind(mode: int) -> str | None:
    """``"file"``, ``"direct"`` (FIFO or device) or None (cannot be an output) for a mode."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "direct"
    return None


def _inspect(path: Path) -> tuple[Path, os.stat_result | None]:
    """The file an output path writes (links resolved) and its status (None: it does not exist).

    Raises:
        OSError: The path is a folder, a socket, a link loop, or cannot be looked at.
    """
    final = Path(os.path.realpath(path))
    try:
        status = os.stat(final)
    except (FileNotFoundError, NotADirectoryError):  # its folder is reported by the caller
        return final, None
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if _kind(status.st_mode) is None:
        raise OSError(errno.EINVAL, "is not a file, a FIFO or a device", str(path))
    return final, status


def check_outputs(
    outputs: Sequence[tuple[str, PathLike]], *, created: Iterable[PathLike] = ()
) -> None:
    """Check, before any work, that every output of a run can be written.

    Each output must be a regular file (or not exist yet), a FIFO or a device, never a folder;
    a file's folder must exist (or be one of ``created``, whose nearest existing parent is then
    checked) and be writable; an existing file must be writable; and no two regular outputs may
    name the same file (through links or not).

    Args:
        outputs: ``(flag, path)`` pairs, e.g. ``("-intfile", Path("int.img"))``.
        created: Folders the run creates before writing (e.g. its ``-outdir``).

    Raises:
        InputError: The first output that cannot be written, naming its flag and path.
    """
    making = {Path(os.path.realpath(c)) for c in created}
    seen: dict[object, str] = {}
    for flag, given in outputs:
        path = Path(given)
        try:
            final, status = _inspect(path)
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or _reason(exc)}", flag) from None
        if status is not None and _kind(status.st_mode) == "direct":
            if not os.access(final, os.W_OK):
                raise InputError(f"{path}: the FIFO or device is not writable", flag)
            continue
        _check_folder(flag, path, final.parent, making)
        if status is not None and not os.access(final, os.W_OK):
            raise InputError(f"{path}: the file is read-only", flag)
        keys: list[object] = [str(final)]
        if status is not None:
            keys.append((status.st_dev, status.st_ino))
        for key in keys:
            if key in seen:
                raise InputError(
                    f"{path}: is also the {seen[key]} output; give each output its own file", flag
                )
        for key in keys:
            seen[key] = flag


def _check_folder(flag: str, path: Path, folder: Path, making: set[Path]) -> None:
    """Raise an :class:`InputError` unless files can be created in ``folder``."""
    shown = path.parent
    if not folder.exists() and folder in making:
        parent = folder
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        folder, shown = parent, parent
    if not folder.exists():
        raise InputError(f"{path}: the folder {shown} does not exist", flag)
    if not folder.is_dir():
        raise InputError(f"{path}: {shown} is not a folder", flag)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: the folder {shown} is not writable", flag)


class OutputSet:
    """Files written together: staged beside their targets, renamed into place all at once.

    Use it as a context manager: files added inside the ``with`` block are committed when it
    ends normally and discarded (no target changed) when it ends with an exception.

    Args:
        catch_signals: Turn SIGINT, SIGTERM and SIGHUP into a clean abort while the set is open
            (only from the main thread; a signal that is ignored stays ignored). The previous
            handlers are restored when the block ends and the signal is then delivered to them
            again, so the process ends as it would have, minus the temporaries. A signal that
            arrives during the renames or while temporaries are removed is held until they are
            done.
        recovered: Folders already tidied with :func:`recover_outputs` by this process (the
            set is shared and updated: many sets into one folder tidy it once); None: each
            set tidies the folders it writes into.
    """

    def __init__(self, *, catch_signals: bool = False, recovered: set[Path] | None = None) -> None:
        self._staged: list[_Staged] = []
        self._recovered: set[Path] = set() if recovered is None else recovered
        self._catch = catch_signals
        self._previous: dict[int, Any] = {}
        self._holding = False
        self._pending: int | None = None
        self.written: list[Path] = []

    def __enter__(self) -> OutputSet:
        if self._catch and threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                previous = signal.getsignal(signum)
                if previous is signal.SIG_IGN or previous is None:
                    continue
                self._previous[signum] = previous
                signal.signal(signum, self._on_signal)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        interrupted = exc if isinstance(exc, OutputsInterrupted) else None
        try:
            if exc_type is None:
                self.commit()
            else:
                self.discard()
        except OutputsInterrupted as late:
            interrupted = late
            raise
        finally:
            self._restore(interrupted)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._holding:
            self._pending = signum
            return
        raise OutputsInterrupted(signum)

    def _restore(self, interrupted: OutputsInterrupted | None) -> None:
        """Put the previous handlers back, then hand them the signal that arrived, if any."""
        installed = dict(self._previous)
        for signum, previous in installed.items():
            signal.signal(signum, previous)
        self._previous.clear()
        signum = interrupted.signum if interrupted is not None else self._pending
        self._pending = None
        if signum is not None and signum in installed:
            signal.raise_signal(signum)

    def add(self, path: PathLike, data: bytes) -> None:
        """Stage one file of the set.

        A later file for the same regular target replaces the earlier one in the set; a FIFO or
        device gets every file added for it, in order.

        Args:
            path: The output file.
            data: Its complete contents.

        Raises:
            InputError: The file cannot be staged (missing folder, a folder in its place, no
                permission, disk full, ...); the set's other files are untouched.
        """
        target = Path(path)
        try:
            final, status = _inspect(target)
            if status is not None and _kind(status.st_mode) == "direct":
                self._staged.append(_Staged(target, final, None, bytes(data)))
                return
            self._drop(final)
            if final.parent not in self._recovered:
                self._recovered.add(final.parent)
                recover_outputs(final.parent)
            temp = stage_file(final, status, data)
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({_reason(exc)})", source=path) from None
        self._staged.append(_Staged(target, final, temp, None))

    def _drop(self, final: Path) -> None:
        for item in [s for s in self._staged if s.final == final]:
            _remove_temp(item)
            self._staged.remove(item)

    def discard(self) -> None:
        """Remove every staged temporary; no target is changed."""
        holding, self._holding = self._holding, True
        try:
            for item in self._staged:
                _remove_temp(item)
            self._staged.clear()
        finally:
            self._holding = holding

    def commit(self) -> list[Path]:
        """Write the direct targets, then rename every staged file into place.

        Returns:
            The targets, in the order they were added.

        Raises:
            InputError: A target could not be written; the staged files are removed.
        """
        staged, current = list(self._staged), None
        try:
            for item in staged:
                if item.data is not None:
                    current = item.target
                    _write_direct(item.final, item.data)
            current = None
            self._rename_all([s for s in staged if s.temp is not None])
        except OSError as exc:
            self.discard()
            name = current if current is not None else (exc.filename or "output")
            raise InputError(f"{name}: cannot write ({_reason(exc)})", source=name) from None
        except BaseException:
            self.discard()
            raise
        self._staged.clear()
        self.written = [s.target for s in staged]
        return self.written

    def _rename_all(self, items: list[_Staged]) -> None:
        """Journal, rename and un-journal the staged files, holding signals meanwhile."""
        if not items:
            return
        self._holding = True
        journals: list[Path] = []
        try:
            journals = write_journals([(s.temp, s.final) for s in items if s.temp is not None])
            for item in items:
                if item.temp is not None:
                    os.replace(item.temp, item.final)
                    OWN_FILES.discard(item.temp)
                    item.temp = None
            for folder in {s.final.parent for s in items}:
                fsync_folder(folder)
        finally:
            for journal in journals:
                with contextlib.suppress(OSError):
                    journal.unlink()
                OWN_FILES.discard(journal)
            self._holding = False


def write_output(path: PathLike, data: bytes, into: OutputSet | None = None) -> None:
    """Write one file: staged in ``into`` when given, else atomically on its own.

    Args:
        path: The output file.
        data: Its complete contents.
        into: The set the file belongs to (None: a set of one, committed now).

    Raises:
        InputError: The file cannot be written (or staged).
    """
    if into is not None:
        into.add(path, data)
        return
    with OutputSet() as alone:
        alone.add(path, data)


def _remove_temp(item: _Staged) -> None:
    if item.temp is not None:
        with contextlib.suppress(OSError):
            item.temp.unlink()
        OWN_FILES.discard(item.temp)
        item.temp = None


def _write_direct(final: Path, data: bytes) -> None:
    """Write ``data`` into a FIFO or device, opened for writing as ``fopen`` opens it."""
    fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_BINARY, 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
