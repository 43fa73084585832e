"""Output sets: staged writes, one commit, journals, leftovers, FIFOs, devices and links."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_core.io import (
    OutputSet,
    OutputsInterrupted,
    atomic_write_bytes,
    check_outputs,
    read_float_image,
    recover_outputs,
    write_float_image,
    write_smv,
)
from nb_core.io._journal import JOURNAL_PREFIX, PARTIAL_PREFIX

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def leftovers(folder: Path) -> list[str]:
    """Names of staged temporaries and journals in ``folder``."""
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith((PARTIAL_PREFIX, JOURNAL_PREFIX))
    )


def old_set(folder: Path) -> dict[str, bytes]:
    """Write three 'earlier' outputs into ``folder`` and return their bytes by name."""
    files = {"a.bin": b"old a" * 10, "b.img": b"old b" * 20, "c.pgm": b"old c" * 30}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def contents(folder: Path, names: list[str]) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in names}


def write_set(files: Sequence[tuple[Path | str, bytes]], *, fail: str | None = None) -> None:
    """Write ``files`` as one set; raise ``RuntimeError(fail)`` after staging them if given."""
    with OutputSet() as out:
        for path, data in files:
            out.add(path, data)
        if fail is not None:
            raise RuntimeError(fail)


def failing_write(after: int) -> Callable[[int, bytes | memoryview], int]:
    """An ``os.write`` that raises ENOSPC once ``after`` bytes have gone through it."""
    real = os.write
    state = {"total": 0}

    def write(fd: int, data: bytes | memoryview) -> int:
        if state["total"] + len(data) > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        state["total"] += len(data)
        return real(fd, data)

    return write


def test_set_commits_every_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    old = old_set(tmp_path)
    with OutputSet() as out:
        out.add(tmp_path / "a.bin", b"new a")
        out.add(tmp_path / "b.img", b"new b")
        # Staged, not yet visible: the targets still hold the earlier files.
        assert contents(tmp_path, ["a.bin", "b.img"]) == {k: old[k] for k in ("a.bin", "b.img")}
        assert len(leftovers(tmp_path)) == 2
    assert out.written == [tmp_path / "a.bin", tmp_path / "b.img"]
    assert contents(tmp_path, ["a.bin", "b.img", "c.pgm"]) == {
        "a.bin": b"new a",
        "b.img": b"new b",
        "c.pgm": old["c.pgm"],
    }
    assert leftovers(tmp_path) == []


def test_a_full_disk_on_the_second_file_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = old_set(tmp_path)
    monkeypatch.setattr(os, "write", failing_write(after=100))
    files = [(tmp_path / "a.bin", b"x" * 60), (tmp_path / "b.img", b"y" * 60)]  # b overflows
    with pytest.raises(InputError, match=r"b\.img: cannot write \(No space left on device\)"):
        write_set(files)
    monkeypatch.undo()
    assert contents(tmp_path, list(old)) == old
    assert leftovers(tmp_path) == []


def test_an_error_between_files_changes_nothing(tmp_path: Path) -> None:
    old = old_set(tmp_path)
    with pytest.raises(RuntimeError, match="render failed"):
        write_set([(tmp_path / "a.bin", b"new a")], fail="render failed")
    assert contents(tmp_path, list(old)) == old
    assert leftovers(tmp_path) == []


def test_writers_stage_into_a_set(tmp_path: Path) -> None:
    with OutputSet() as out:
        write_float_image(tmp_path / "f.bin", np.full((2, 3), 1.5), into=out)
        write_smv(tmp_path / "i.img", np.full((2, 3), 7, np.uint16), [("A", "1")], into=out)
        assert not (tmp_path / "f.bin").exists()
    assert read_float_image(tmp_path / "f.bin", 3, 2).tolist() == [[1.5] * 3] * 2
    assert (tmp_path / "i.img").stat().st_size == 512 + 12


def test_replacing_keeps_the_permission_bits(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "data" / "image.bin"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "latest.bin"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new contents")
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes() == b"new contents"
    assert leftovers(tmp_path) == []
    assert leftovers(real.parent) == []
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "data" / "created.bin")
    atomic_write_bytes(dangling, b"made")
    assert dangling.is_symlink()
    assert (real.parent / "created.bin").read_bytes() == b"made"


def test_a_fifo_is_written_directly_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with OutputSet() as out:
        out.add(fifo, b"through the pipe" * 1000)
        out.add(tmp_path / "a.bin", b"regular")
    reader.join(timeout=30)
    assert got == [b"through the pipe" * 1000]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert (tmp_path / "a.bin").read_bytes() == b"regular"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not IS_ROOT, reason="making a device node needs root")
def test_a_device_is_written_directly_not_replaced(tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    atomic_write_bytes(null, b"discarded")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert (os.major(null.lstat().st_rdev), os.minor(null.lstat().st_rdev)) == (1, 3)
    assert leftovers(tmp_path) == []


def test_a_failing_device_stops_the_set_before_any_rename(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    old = old_set(tmp_path)
    files: list[tuple[Path | str, bytes]] = [(tmp_path / "a.bin", b"new a"), ("/dev/full", b"x")]
    with pytest.raises(InputError, match=r"/dev/full: cannot write \(No space left on device\)"):
        write_set(files)
    assert contents(tmp_path, list(old)) == old
    assert leftovers(tmp_path) == []


def test_long_names_fit_in_a_temporary_name(tmp_path: Path) -> None:
    for name in ("n" * 250, "\u00e9" * 120):  # 250 bytes each
        path = tmp_path / name
        atomic_write_bytes(path, b"data")
        assert path.read_bytes() == b"data"
    assert leftovers(tmp_path) == []


# A child process that stages three files and is killed (SIGKILL) at a chosen point.
_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from nb_core.io import OutputSet
    folder, where, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    calls = {"write": 0, "replace": 0}
    real_write, real_replace = os.write, os.replace
    def hook(kind):
        calls[kind] += 1
        if kind == where and calls[kind] == count:
            os.kill(os.getpid(), signal.SIGKILL)
    def write(fd, data):
        hook("write")
        return real_write(fd, data)
    def replace(a, b):
        hook("replace")
        return real_replace(a, b)
    os.write, os.replace = write, replace
    with OutputSet() as out:
        for name in ("a.bin", "b.img", "c.pgm"):
            out.add(folder / name, ("new " + name).encode() * 50)
    """
)


def _killed_child(folder: Path, where: str, count: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), where, str(count)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize(
    ("where", "count"),
    [("write", 1), ("write", 2), ("write", 3), ("replace", 2), ("replace", 3), ("replace", 4)],
)
def test_a_kill_leaves_old_or_new_files_and_recovery_completes_the_set(
    tmp_path: Path, where: str, count: int
) -> None:
    # Writes 1-3 stage the files, write 4 is the journal; replace 1 publishes the journal and
    # replaces 2-4 move the files into place.
    old = old_set(tmp_path)
    new = {name: ("new " + name).encode() * 50 for name in old}
    _killed_child(tmp_path, where, count)
    after_kill = contents(tmp_path, list(old))
    assert all(after_kill[n] in (old[n], new[n]) for n in old)
    assert leftovers(tmp_path) != []
    renamed, removed = recover_outputs(tmp_path)
    recovered = contents(tmp_path, list(old))
    assert recovered in (old, new)
    if where == "replace":  # the journal was written: the set is rolled forward
        assert recovered == new
        assert renamed == sum(after_kill[n] == old[n] for n in old)
    else:
        assert (recovered, renamed) == (old, 0)
        assert removed >= 1
    assert leftovers(tmp_path) == []


def test_recovery_leaves_the_files_of_live_processes(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f"{PARTIAL_PREFIX}{sleeper.pid}.0123456789ab.a.bin"
        live.write_bytes(b"being written")
        dead_pid = _dead_pid()
        dead = tmp_path / f"{PARTIAL_PREFIX}{dead_pid}.0123456789ab.a.bin"
        dead.write_bytes(b"abandoned")
        other = tmp_path / ".a.bin.0123456789ab.tmp"  # not ours: never touched
        other.write_bytes(b"someone else's")
        assert recover_outputs(tmp_path) == (0, 1)
        assert [live.exists(), other.exists(), dead.exists()] == [True, True, False]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_journal_moves_only_its_own_temporaries(tmp_path: Path) -> None:
    pid = _dead_pid()
    (tmp_path / "victim").write_bytes(b"keep me")
    (tmp_path / "stray").write_bytes(b"not a temporary")
    journal = tmp_path / f"{JOURNAL_PREFIX}{pid}.0123456789ab"
    journal.write_text(json.dumps({"pairs": [[str(tmp_path / "stray"), str(tmp_path / "victim")]]}))
    assert recover_outputs(tmp_path) == (0, 0)
    assert (tmp_path / "victim").read_bytes() == b"keep me"
    assert not journal.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sigterm_while_staging_discards_and_reaches_the_previous_handler(
    tmp_path: Path,
) -> None:
    old = old_set(tmp_path)
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with pytest.raises(OutputsInterrupted):
            _signalled_set(tmp_path)
        handler = signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIGTERM]  # handed on once the temporaries were gone
    assert getattr(handler, "__name__", "") == "<lambda>"
    assert contents(tmp_path, list(old)) == old
    assert leftovers(tmp_path) == []


def _signalled_set(folder: Path) -> None:
    with OutputSet(catch_signals=True) as out:
        out.add(folder / "a.bin", b"new a")
        os.kill(os.getpid(), signal.SIGTERM)
        out.add(folder / "b.img", b"new b")


def test_a_signal_during_the_renames_waits_for_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = old_set(tmp_path)
    seen: list[int] = []
    real_replace = os.replace
    state = {"calls": 0}

    def replace(src: str | Path, dst: str | Path) -> None:
        state["calls"] += 1
        if state["calls"] == 2:  # after the journal, before the first file
            os.kill(os.getpid(), signal.SIGTERM)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with OutputSet(catch_signals=True) as out:
            for name in old:
                out.add(tmp_path / name, b"new")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIGTERM]
    assert contents(tmp_path, list(old)) == dict.fromkeys(old, b"new")
    assert leftovers(tmp_path) == []


def test_without_catch_signals_no_handler_is_touched(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with OutputSet() as out:
        out.add(tmp_path / "a.bin", b"x")
        inside = {s: signal.getsignal(s) for s in before}
    assert inside == before
    with OutputSet(catch_signals=True) as out:
        out.add(tmp_path / "b.bin", b"x")
    assert {s: signal.getsignal(s) for s in before} == before


def test_check_outputs_names_the_flag_and_the_problem(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"")
    cases = {
        ("-intfile", tmp_path / "no" / "such" / "x.img"): (
            f"-intfile: {tmp_path}/no/such/x.img: the folder {tmp_path}/no/such does not exist"
        ),
        ("-floatfile", tmp_path / "dir"): f"-floatfile: {tmp_path}/dir: is a folder, not a file",
        ("-pgmfile", tmp_path / "file" / "x.pgm"): (
            f"-pgmfile: {tmp_path}/file/x.pgm: {tmp_path}/file is not a folder"
        ),
    }
    for (flag, path), message in cases.items():
        with pytest.raises(InputError) as info:
            check_outputs([(flag, path)])
        assert str(info.value) == message
    check_outputs(
        [("-floatfile", tmp_path / "new" / "deeper" / "f.bin")],
        created=[tmp_path / "new" / "deeper"],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_check_outputs_refuses_two_outputs_in_one_file(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"")
    (tmp_path / "link.bin").symlink_to(tmp_path / "a.bin")
    with pytest.raises(InputError, match=r"^-intfile: .*link\.bin: is also the -floatfile output"):
        check_outputs([("-floatfile", tmp_path / "a.bin"), ("-intfile", tmp_path / "link.bin")])
    with pytest.raises(InputError, match=r"^-noisefile: .*n\.img: is also the -intfile output"):
        check_outputs([("-intfile", tmp_path / "n.img"), ("-noisefile", tmp_path / "n.img")])
    check_outputs([("-floatfile", "/dev/null"), ("-intfile", "/dev/null")])  # devices may repeat


@pytest.mark.skipif(IS_ROOT, reason="root may write anywhere")
def test_check_outputs_refuses_read_only_places(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    locked = tmp_path / "locked.bin"
    locked.write_bytes(b"")
    locked.chmod(0o444)
    try:
        with pytest.raises(InputError, match=r"the folder .*ro is not writable"):
            check_outputs([("-intfile", ro / "x.img")])
        with pytest.raises(InputError, match=r"locked\.bin: the file is read-only"):
            check_outputs([("-intfile", locked)])
    finally:
        ro.chmod(0o755)
