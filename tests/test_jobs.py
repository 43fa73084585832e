"""``nb jobs``: one image per line of a jobs file (or row of a table), in one process.

Each image equals ``nb simulate`` of the common flags followed by its line's; a table gives the
same images as the equivalent lines; a run killed with SIGKILL in the middle of writing an
image leaves, once the next run has finished what the dead one committed, only whole images,
and ``--resume`` completes the set without rendering those again.
"""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nb_core.io import read_float_image, read_smv, recover_outputs
from nb_parity.tolerances import TOLERANCE
from tests.helpers import assert_same_counts, in_folder, run_nb

COMMON = [
    *("-cell", "100", "100", "100", "90", "90", "90", "-lambda", "1", "-N", "5"),
    *("-default_F", "100", "-detpixels", "32", "-pixel", "0.2", "-oversample", "1"),
    *("-dtype", "float64", "-nopgm", "-quiet", "-compile", "off"),
]
LINES = [
    "-distance 90 -misset 10 0 0",
    "# a comment, then a blank line",
    "",
    "-distance 100 -misset 0 20 0 -seed 99",
    "-distance 110 -misset 0 0 30 -intfile own.img",
]
SIZE = 32


def test_each_line_is_a_separate_run(tmp_path: Path) -> None:
    (tmp_path / "jobs.txt").write_text("\n".join(LINES) + "\n")
    assert in_folder(tmp_path, ["jobs", "jobs.txt", "-seed", "5", *COMMON]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            "jobs.txt",
            *(f"floatimage_0000{n}.bin" for n in (1, 2, 3)),
            *(f"noiseimage_0000{n}.img" for n in (1, 2, 3)),
            "intimage_00001.img",
            "intimage_00002.img",
            "own.img",
        ]
    )
    # Image k seeds its noise with SEED + k - 1 unless its line gives a seed.
    own = [
        ["-distance", "90", "-misset", "10", "0", "0", "-seed", "5"],
        ["-distance", "100", "-misset", "0", "20", "0", "-seed", "99"],
        ["-distance", "110", "-misset", "0", "0", "30", "-seed", "7"],
    ]
    tol = TOLERANCE["float64"]
    for number, flags in enumerate(own, start=1):
        alone = tmp_path / f"alone{number}"
        alone.mkdir()
        argv = ["simulate", *COMMON, *flags, "-floatfile", "f.bin", "-noisefile", "n.img"]
        assert in_folder(alone, argv) == 0
        image = read_float_image(tmp_path / f"floatimage_0000{number}.bin", SIZE, SIZE)
        alone_image = read_float_image(alone / "f.bin", SIZE, SIZE)
        np.testing.assert_allclose(image, alone_image, rtol=tol.rtol, atol=tol.atol)
        noise = read_smv(tmp_path / f"noiseimage_0000{number}.img").data
        assert_same_counts(noise, read_smv(alone / "n.img").data)


def test_a_table_gives_the_same_images_as_lines(tmp_path: Path) -> None:
    lines, table = tmp_path / "lines", tmp_path / "table"
    lines.mkdir()
    table.mkdir()
    (lines / "jobs.txt").write_text(
        "-misset 10 0 0 -flux 1e12 -nonoise\n-misset 10 0 0 -flux 2e12\n"
    )
    (table / "jobs.csv").write_text("misset,-flux,nonoise\n10 0 0,1e12,yes\n10 0 0,2e12,no\n")
    for folder, name in ((lines, "jobs.txt"), (table, "jobs.csv")):
        assert in_folder(folder, ["jobs", name, "-distance", "100", *COMMON]) == 0
    for name in ("floatimage_00001.bin", "floatimage_00002.bin", "noiseimage_00002.img"):
        assert (lines / name).read_bytes() == (table / name).read_bytes()
    assert not (table / "noiseimage_00001.img").exists()
    double = read_float_image(table / "floatimage_00002.bin", SIZE, SIZE)
    single = read_float_image(table / "floatimage_00001.bin", SIZE, SIZE)
    np.testing.assert_allclose(double, 2 * single, rtol=1e-6)  # twice the flux


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (
            "-distance 90\n-distanse 80\n",
            "jobs.txt",
            "nb: error: jobs.txt: line 2: -distanse: unknown flag",
        ),
        ("-distance 90 'open\n", "jobs.txt", "nb: error: jobs.txt: line 1: No closing quotation"),
        ("distanse\n90\n", "jobs.csv", "nb: error: jobs.csv: column 'distanse' is not a flag"),
        ("nonoise\nmaybe\n", "jobs.csv", "nb: error: jobs.csv: line 2: -nonoise takes yes or no"),
        ("# nothing\n", "jobs.txt", "nb: error: jobs.txt: holds no jobs"),
        (
            "-intfile x.img\n-intfile x.img\n",
            "jobs.txt",
            "nb: error: images 1 and 2 would both write x.img",
        ),
    ],
)
def test_a_bad_jobs_file_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, name: str, message: str
) -> None:
    (tmp_path / name).write_text(text)
    assert in_folder(tmp_path, ["jobs", name, "-distance", "100", *COMMON]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == [name]


# Runs before nb in the child: SIGKILL at the COUNT-th os.replace (the commits' renames).
_KILL_AT_RENAME = textwrap.dedent(
    """
    import os, signal
    _count, _real = [0], os.replace
    def _replace(a, b):
        _count[0] += 1
        if _count[0] == {count}:
            os.kill(os.getpid(), signal.SIGKILL)
        return _real(a, b)
    os.replace = _replace
    """
)

KILL_FLAGS = [*COMMON, "-distance", "100", "-nonoise", "-seed", "3"]


def image_names(number: int) -> list[str]:
    return [f"floatimage_{number:05d}.bin", f"intimage_{number:05d}.img"]


def test_a_killed_batch_resumes_and_leaves_no_partial_image(tmp_path: Path) -> None:
    jobs = "".join(f"-misset {5 * k} {3 * k} 0\n" for k in range(12))
    reference, work = tmp_path / "reference", tmp_path / "work"
    for folder in (reference, work):
        folder.mkdir()
        (folder / "jobs.txt").write_text(jobs)
    done = run_nb(reference, ["jobs", "jobs.txt", "--batch", "4", *KILL_FLAGS])
    assert done.returncode == 0, done.stderr
    # Each image's commit is three renames (its journal, then its two files): the kill at
    # rename 15 comes when image 5's float file is in place and its SMV file is not.
    killed = run_nb(
        work, ["jobs", "jobs.txt", "--batch", "4", *KILL_FLAGS], _KILL_AT_RENAME.format(count=15)
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [p for p in work.iterdir() if p.name.startswith(".")] != []
    assert (work / "floatimage_00005.bin").exists()
    assert not (work / "intimage_00005.img").exists()
    recover_outputs(work)  # what the next run does first: finish the dead run's commit
    assert [p for p in work.iterdir() if p.name.startswith(".")] == []
    whole = []
    for number in range(1, 13):
        present = [(work / n).exists() for n in image_names(number)]
        assert all(present) or not any(present), f"image {number} is partial"
        if all(present):
            whole.append(number)
            for name in image_names(number):
                assert (work / name).read_bytes() == (reference / name).read_bytes(), name
    assert whole == [1, 2, 3, 4, 5]
    resumed = run_nb(work, ["jobs", "jobs.txt", "--resume", "--batch", "4", *KILL_FLAGS])
    assert resumed.returncode == 0, resumed.stderr
    for number in range(1, 13):
        for name in image_names(number):
            assert (work / name).read_bytes() == (reference / name).read_bytes(), name
    assert [p for p in work.iterdir() if p.name.startswith(".")] == []


def test_resume_renders_only_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "jobs.txt").write_text("-misset 1 0 0\n-misset 2 0 0\n-misset 3 0 0\n")
    flags = ["jobs", "jobs.txt", "--resume", *KILL_FLAGS]
    flags.remove("-quiet")
    assert in_folder(tmp_path, flags) == 0
    (tmp_path / "intimage_00002.img").unlink()
    before = (tmp_path / "floatimage_00001.bin").stat().st_mtime_ns
    capsys.readouterr()
    assert in_folder(tmp_path, flags) == 0
    out = capsys.readouterr().out
    assert "images: 1 rendered, 2 already written" in out
    assert (tmp_path / "intimage_00002.img").is_file()
    assert (tmp_path / "floatimage_00001.bin").stat().st_mtime_ns == before
