"""The outputs of ``nb simulate`` are one set: checked before the render, all new or all old.

Bad output paths fail before any work with one line; a failure, a signal or a hard kill while
the files are written leaves the earlier set (after the next run's roll-forward: the whole new
set), never a truncated file, a mix or a leftover temporary; FIFOs, devices and links are
written as the C program's ``fopen`` writes them.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import nb_cli.simulate
from nb_cli import main
from nb_core.io import read_float_image
from tests.helpers import run_nb

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
HKL = "0 0 0 1000\n1 0 0 300\n0 1 0 200\n0 0 1 100\n-1 0 0 300\n"
OUTPUTS = ["Fdump.bin", "floatimage.bin", "intimage.img", "image.pgm"]


def flags(pixels: int = 64, distance: str = "100", hkl: str = "g.hkl") -> list[str]:
    """A ``simulate`` command writing the four files of :data:`OUTPUTS`."""
    return [
        *("-cell", "100", "100", "100", "90", "90", "90", "-lambda", "1", "-N", "5"),
        *("-hkl", hkl, "-detpixels", str(pixels), "-distance", distance, "-pixel", "0.1"),
        *("-nonoise", "-noprogress", "-compile", "off", "-quiet"),
    ]


def leftovers(folder: Path) -> list[str]:
    """Hidden files in ``folder``: temporaries and journals, in any naming."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def snapshot(folder: Path, names: list[str] = OUTPUTS) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in names}


def make_sets(tmp_path: Path, pixels: int = 64) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A folder holding an earlier run's outputs, plus the bytes of the earlier and new sets."""
    new_dir, work = tmp_path / "reference", tmp_path / "work"
    for folder in (new_dir, work):
        folder.mkdir()
        (folder / "g.hkl").write_text(HKL)
    (work / "old.hkl").write_text(HKL.replace("300", "900"))
    assert main_in(work, flags(pixels, "120", hkl="old.hkl")) == 0
    assert main_in(new_dir, flags(pixels)) == 0
    old, new = snapshot(work), snapshot(new_dir)
    assert all(old[n] != new[n] for n in OUTPUTS)
    return work, old, new


def main_in(folder: Path, argv: list[str]) -> int:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return main(["simulate", *argv])
    finally:
        os.chdir(cwd)


def test_a_missing_output_folder_fails_before_the_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    argv = [*flags(), "-intfile", "no/such/dir/x.img"]
    argv.remove("-quiet")
    assert main(["simulate", *argv]) == 2
    out, err = capsys.readouterr()
    assert err == "nb: error: -intfile: no/such/dir/x.img: the folder no/such/dir does not exist\n"
    assert out == ""  # refused before the banner and the render
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.hkl"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-pgmfile", "sub"], "-pgmfile: sub: is a folder, not a file"),
        (["-intfile", "floatimage.bin"], "-intfile: intimage.img"),
        (["-floatfile", "g.hkl/f.bin"], "-floatfile: g.hkl/f.bin: g.hkl is not a folder"),
    ],
    ids=["folder", "same-file", "file-as-folder"],
)
def test_bad_output_paths_leave_the_earlier_set(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    (tmp_path / "sub").mkdir()
    assert main(["simulate", *flags(distance="120")]) == 0
    before = snapshot(tmp_path)
    capsys.readouterr()
    if extra[0] == "-intfile":  # two outputs in one file: -floatfile x -intfile x
        extra = ["-floatfile", "intimage.img", "-intfile", "intimage.img"]
        message = "-intfile: intimage.img: is also the -floatfile output; give each output"
    assert main(["simulate", *flags(), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nb: error: {message}")
    assert err.count("\n") == 1
    assert snapshot(tmp_path) == before
    assert leftovers(tmp_path) == []


def _enospc_after(limit: int) -> Callable[[int, bytes | memoryview], int]:
    real, state = os.write, {"total": 0}

    def write(fd: int, data: bytes | memoryview) -> int:
        if state["total"] + len(data) > limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        state["total"] += len(data)
        return real(fd, data)

    return write


def test_a_full_disk_on_the_second_image_leaves_the_earlier_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    assert main(["simulate", *flags(distance="120")]) == 0
    before = snapshot(tmp_path)
    capsys.readouterr()
    # The dump (288 bytes) and the float image (16 KiB) fit; the SMV image does not.
    monkeypatch.setattr(os, "write", _enospc_after(20000))
    code = main(["simulate", *flags()])
    monkeypatch.undo()
    assert code == 2
    err = capsys.readouterr().err
    assert err == "nb: error: intimage.img: cannot write (No space left on device)\n"
    assert snapshot(tmp_path) == before
    assert leftovers(tmp_path) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root, Linux); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_leaves_the_earlier_set(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (small_disk / "g.hkl").write_text(HKL)
    assert main_in(small_disk, flags(distance="120")) == 0  # 40 KiB of 64
    before = snapshot(small_disk)
    capsys.readouterr()
    assert main_in(small_disk, flags()) == 2
    err = capsys.readouterr().err
    assert err.startswith("nb: error: ")
    assert err.endswith(": cannot write (No space left on device)\n")
    assert snapshot(small_disk) == before
    assert leftovers(small_disk) == []


class _RenderFailed(Exception):
    pass


def test_the_dump_is_not_replaced_before_the_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    (tmp_path / "old.hkl").write_text(HKL.replace("300", "900"))
    assert main(["simulate", *flags(hkl="old.hkl")]) == 0
    before = snapshot(tmp_path)
    seen: list[bytes] = []

    def failing_render(*args: object, **kwargs: object) -> object:
        seen.append((tmp_path / "Fdump.bin").read_bytes())
        raise _RenderFailed

    monkeypatch.setattr(nb_cli.simulate, "_render", failing_render)
    with pytest.raises(_RenderFailed):
        main(["simulate", *flags()])
    assert seen == [before["Fdump.bin"]]
    assert snapshot(tmp_path) == before
    assert leftovers(tmp_path) == []


# Runs before nb in the child: SIGKILL (or another signal) at the COUNT-th call of KIND.
_HOOK = textwrap.dedent(
    """
    import os, signal
    _kind, _count, _signum = {kind!r}, {count}, {signum}
    _calls = {{"write": 0, "replace": 0}}
    _real = {{"write": os.write, "replace": os.replace}}
    def _hook(kind):
        _calls[kind] += 1
        if kind == _kind and _calls[kind] == _count:
            os.kill(os.getpid(), _signum)
    def _write(fd, data):
        _hook("write")
        return _real["write"](fd, data)
    def _replace(a, b):
        _hook("replace")
        return _real["replace"](a, b)
    os.write, os.replace = _write, _replace
    """
)


def _check_after_kill(work: Path, old: dict[str, bytes], new: dict[str, bytes], why: str) -> None:
    """Each file old or new; after the roll-forward the whole set one or the other."""
    import nb_core.io

    after = snapshot(work)
    for name in OUTPUTS:
        assert after[name] in (old[name], new[name]), f"{name} is neither set ({why})"
    recover = getattr(nb_core.io, "recover_outputs", None)
    if recover is not None:  # what the next run in the folder does first
        recover(work)
    assert snapshot(work) in (old, new), f"a mixed set after the roll-forward ({why})"
    assert leftovers(work) == [], why


@pytest.mark.parametrize(
    ("kind", "count"),
    [("write", 1), ("write", 3), ("replace", 2), ("replace", 4)],
    ids=["first-file", "third-file", "before-renames", "between-renames"],
)
def test_a_kill_while_writing_never_leaves_a_broken_set(
    tmp_path: Path, kind: str, count: int
) -> None:
    # Writes 1-4 stage the dump, float, SMV and PGM files, write 5 is the journal; replace 1
    # publishes the journal, replaces 2-5 move the files into place.
    work, old, new = make_sets(tmp_path)
    hook = _HOOK.format(kind=kind, count=count, signum=int(signal.SIGKILL))
    killed = run_nb(work, ["simulate", *flags()], prelude=hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert leftovers(work) != []  # the kill left its temporaries (and maybe its journal)
    _check_after_kill(work, old, new, f"SIGKILL at {kind} {count}")
    final = run_nb(work, ["simulate", *flags()])
    assert final.returncode == 0, final.stderr
    assert snapshot(work) == new
    assert leftovers(work) == []


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_while_writing_leaves_the_earlier_set(tmp_path: Path, name: str) -> None:
    signum = int(getattr(signal, name))
    work, old, _ = make_sets(tmp_path)
    hook = _HOOK.format(kind="write", count=2, signum=signum)
    stopped = run_nb(work, ["simulate", *flags()], prelude=hook)
    if name == "SIGTERM":
        assert stopped.returncode == -signal.SIGTERM, stopped.stderr
    else:
        assert (stopped.returncode, stopped.stderr) == (130, "nb: aborted\n")
    assert snapshot(work) == old
    assert leftovers(work) == []


def test_a_symlinked_output_is_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "image.bin").write_bytes(b"earlier")
    (tmp_path / "latest.bin").symlink_to(tmp_path / "data" / "image.bin")
    assert main(["simulate", *flags(), "-floatfile", "latest.bin"]) == 0
    assert (tmp_path / "latest.bin").is_symlink()
    image = read_float_image(tmp_path / "data" / "image.bin", 64, 64)
    assert float(image.max()) > 0
    assert leftovers(tmp_path) == []
    assert leftovers(tmp_path / "data") == []


def test_a_fifo_output_is_written_into_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    os.mkfifo(tmp_path / "pipe")
    got: list[bytes] = []
    reader = threading.Thread(
        target=lambda: got.append((tmp_path / "pipe").read_bytes()), daemon=True
    )
    reader.start()
    assert main(["simulate", *flags(), "-floatfile", "pipe"]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
    assert [len(g) for g in got] == [64 * 64 * 4]
    assert (tmp_path / "intimage.img").is_file()


@pytest.mark.skipif(not IS_ROOT, reason="making a device node needs root")
def test_a_device_output_is_written_into_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.hkl").write_text(HKL)
    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null twin
    assert main(["simulate", *flags(), "-intfile", "null", "-pgmfile", "null"]) == 0
    assert stat.S_ISCHR((tmp_path / "null").lstat().st_mode)
    assert (tmp_path / "floatimage.bin").stat().st_size == 64 * 64 * 4


def _signal_run(
    work: Path, argv: list[str], signum: int, *, at: float | None = None, after: float | None = None
) -> tuple[int, float]:
    """Run nb in ``work`` and send it ``signum`` ``at`` seconds after the start, or ``after``
    seconds after its first staged file appears (None: never); return its exit status and how
    long it wrote (from the first staged file to its end, 0 if none was seen)."""
    code = "from nb_cli import run\nrun()\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start, staged, sent = time.perf_counter(), None, False
    while proc.poll() is None:
        now = time.perf_counter()
        if staged is None and any(n.startswith(".nb-partial.") for n in os.listdir(work)):
            staged = now
        due = (at is not None and now - start >= at) or (
            after is not None and staged is not None and now - staged >= after
        )
        if due and not sent:
            proc.send_signal(signum)
            sent = True
        time.sleep(0.0005)
    end = time.perf_counter()
    return proc.wait(), (end - staged if staged is not None else 0.0)


@pytest.mark.slow
def test_random_kills_of_a_megapixel_run_never_leave_a_broken_set(tmp_path: Path) -> None:
    # Half the signals come at any moment of a run, half while it writes its files.
    work, old, new = make_sets(tmp_path, pixels=1024)
    argv = ["simulate", *flags(1024)]
    t0 = time.perf_counter()
    _, writing = _signal_run(tmp_path / "reference", argv, signal.SIGKILL)
    span = time.perf_counter() - t0
    assert writing > 0
    seed = random.randrange(1 << 30)
    draw = random.Random(seed)

    def moment(i: int) -> dict[str, float]:
        if i % 2 == 0:
            return {"at": draw.uniform(0.2 * span, 1.1 * span)}
        return {"after": draw.uniform(0.0, 0.4 * writing)}  # the files are staged early on

    for i in range(10):
        when = moment(i)
        why = f"SIGKILL {i} {when} (run {span:.2f} s, writing {writing:.3f} s), seed {seed}"
        _signal_run(work, argv, signal.SIGKILL, **when)
        if i == 9:
            break  # the last kill's leftovers are the following run's to tidy
        _check_after_kill(work, old, new, why)
        for name, data in old.items():
            (work / name).write_bytes(data)
    after = snapshot(work)
    assert all(after[n] in (old[n], new[n]) for n in OUTPUTS)
    final = run_nb(work, argv)
    assert final.returncode == 0, final.stderr
    assert snapshot(work) == new
    assert leftovers(work) == []
    for i in range(6):  # SIGTERM and SIGINT: no temporaries even without a roll-forward
        for name, data in old.items():
            (work / name).write_bytes(data)
        signum = signal.SIGTERM if i % 2 == 0 else signal.SIGINT
        when = moment(i // 2)
        code, _ = _signal_run(work, argv, signum, **when)
        why = f"{signum.name} {i} {when}, seed {seed}"
        assert snapshot(work) in (old, new), why
        assert leftovers(work) == [], why
        if snapshot(work) == old:
            assert code != 0, why
