"""Data sets on Dask: the same stills job here and on a scheduler with two worker processes.

The cluster is started by the test on this machine (loopback only): a scheduler and two
worker processes under nannies (``distributed.LocalCluster``); ``nb stills --scheduler
ADDRESS`` (and a scheduler file) must give the images and the manifest, byte for byte, that
the in-process default gives.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import in_folder

FLAGS = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-lambda", "1", "-N", "4"),
    *("-default_F", "100", "-distance", "100", "-detpixels", "24", "-pixel", "0.3"),
    *("-oversample", "1", "-seed", "5", "-nopgm", "-quiet", "-compile", "off"),
]
STILLS = ["stills", "--shots", "10", "--shot-seed", "8", "--batch", "2", "--mosaic-range", "0:0.2"]


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster
    finally:
        cluster.close()


def test_the_cluster_gives_the_in_process_images_and_manifest(
    tmp_path: Path, scheduler: object
) -> None:
    local, remote, by_file = tmp_path / "local", tmp_path / "remote", tmp_path / "file"
    assert in_folder(local, [*STILLS, *FLAGS]) == 0
    address = scheduler.scheduler_address  # type: ignore[attr-defined]
    assert address.startswith("tcp://127.0.0.1:")
    assert in_folder(remote, [*STILLS, "--scheduler", address, *FLAGS]) == 0
    expected = contents(local)
    assert len(expected) == 10 * 4 + 1  # float, SMV, noise and -mat per shot; the manifest
    assert contents(remote) == expected
    # The same through a scheduler file, as `dask scheduler --scheduler-file` or dask-mpi
    # write it (their files hold more keys; the address is what a client reads).
    info = {"type": "Scheduler", "address": address}
    (tmp_path / "scheduler.json").write_text(json.dumps(info))
    assert len(scheduler.scheduler_info["workers"]) == 2  # type: ignore[attr-defined]
    argv = [*STILLS, "--scheduler", str(tmp_path / "scheduler.json"), *FLAGS]
    assert in_folder(by_file, argv) == 0
    assert contents(by_file) == expected


def test_a_cluster_without_dask_is_one_line_naming_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    for option in (["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:1"]):
        assert in_folder(tmp_path, [*STILLS, *option, *FLAGS]) == 2
        err = capsys.readouterr().err
        assert (
            err
            == f"nb: error: {option[0]}: needs Dask distributed: pip install 'nanobragg-torch-cli[dask]'\n"
        )
    assert list(tmp_path.iterdir()) == []


def test_a_bad_image_on_the_cluster_is_one_line(
    tmp_path: Path, scheduler: object, capsys: pytest.CaptureFixture[str]
) -> None:
    address = scheduler.scheduler_address  # type: ignore[attr-defined]
    argv = [*STILLS, "--scheduler", address, *FLAGS, "-distance", "-5"]
    assert in_folder(tmp_path, argv) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"nb: error: image \d+: -distance: [^\n]*\n", err), err
    assert list(tmp_path.iterdir()) == []
