"""The three distributions: their metadata, and wheels that install by name into a clean venv.

The slow test builds the three wheels from a copy of ``packages/``, makes a fresh virtual
environment, installs torch (pinned by ``constraints.txt``) and then nb's distributions by
name from the wheel folder (their other dependencies from the package index), and runs
``nb --version``, ``python -m nb_cli`` and a small ``nb simulate`` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

from nb_cli import main
from nb_cli.version import DISTRIBUTIONS
from nb_core.errors import CORE_DISTRIBUTION, extra_hint

REPO = Path(__file__).resolve().parents[1]

#: Folder under packages/ -> (distribution name, import package).
PACKAGES = {
    "nb-core": ("nanobragg-torch", "nb_core"),
    "nb-cli": ("nanobragg-torch-cli", "nb_cli"),
    "nb-parity": ("nanobragg-torch-parity", "nb_parity"),
}
#: Names nb's distributions must not take: other projects' on the public index.
TAKEN = {"nb", "nb-cli", "nb-core", "nb-parity"}

SIMULATE = [
    *("simulate", "-cell", "100", "100", "100", "90", "90", "90", "-lambda", "6.2", "-N", "5"),
    *("-default_F", "100", "-detpixels", "32", "-distance", "100", "-pixel", "0.1"),
    *("-floatfile", "float.bin", "-intfile", "int.img", "-nonoise", "-nopgm", "-quiet"),
]


def _pyproject(folder: str) -> dict:
    return tomllib.loads((REPO / "packages" / folder / "pyproject.toml").read_text())


def _project(folder: str) -> dict:
    return _pyproject(folder)["project"]


def _requirement_name(requirement: str) -> str:
    name = requirement
    for stop in "[<>=~!; ":
        name = name.split(stop)[0]
    return name.strip().lower()


def test_distribution_names_say_what_they_are_and_avoid_taken_ones() -> None:
    for folder, (name, package) in PACKAGES.items():
        project = _project(folder)
        assert project["name"] == name
        assert name not in TAKEN
        assert (REPO / "packages" / folder / "src" / package / "__init__.py").is_file()
    assert {name: package for name, package in DISTRIBUTIONS} == dict(PACKAGES.values())
    assert _project("nb-core")["name"] == CORE_DISTRIBUTION
    assert extra_hint("gemmi") == "pip install 'nanobragg-torch[gemmi]'"


def test_dependencies_between_the_packages_use_the_distribution_names() -> None:
    ours = {name for name, _ in PACKAGES.values()}
    versions = {_project(folder)["version"] for folder in PACKAGES}
    assert len(versions) == 1  # released together
    wanted = {
        "nb-cli": {"nanobragg-torch"},
        "nb-parity": {"nanobragg-torch", "nanobragg-torch-cli"},
    }
    for folder in PACKAGES:
        project = _project(folder)
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        names = {_requirement_name(r) for r in requirements}
        assert not names & TAKEN, folder
        assert names & ours == wanted.get(folder, set()), folder


def test_each_package_carries_license_readme_and_typing_marker() -> None:
    license_text = (REPO / "LICENSE").read_text()
    assert license_text.startswith("BSD 3-Clause License")
    for folder, (_, package) in PACKAGES.items():
        root = REPO / "packages" / folder
        project = _project(folder)
        assert project["license"] == "BSD-3-Clause"
        assert project["authors"] == [{"name": "nb developers"}]
        assert project["requires-python"] == ">=3.10"
        assert "Typing :: Typed" in project["classifiers"]
        assert project["keywords"]
        for name in project["license-files"]:
            assert (root / name).read_text() == license_text
        assert (root / project["readme"]).read_text().startswith("# " + project["name"])
        assert (root / "src" / package / "py.typed").is_file()
        setuptools = _pyproject(folder)["tool"]["setuptools"]
        assert "py.typed" in setuptools["package-data"][package]
        for url in project.get("urls", {}).values():
            assert "example" not in url
            assert "TODO" not in url


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _clean_env() -> dict[str, str]:
    """The environment without this checkout's sources on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "1")
    return env


def _build_wheels(tmp_path: Path, env: dict[str, str]) -> Path:
    source = tmp_path / "src"
    wheels = tmp_path / "wheels"
    for folder in PACKAGES:
        # a copy (symbolic links followed: the LICENSE), so that the build leaves no trace here
        shutil.copytree(
            REPO / "packages" / folder,
            source / folder,
            ignore=shutil.ignore_patterns("__pycache__", "tests", "build", "*.egg-info"),
        )
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels)]
    _run([*pip, *(str(source / folder) for folder in PACKAGES)], tmp_path, env)
    return wheels


@pytest.mark.slow
def test_wheels_install_by_name_into_a_clean_venv_and_simulate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _clean_env()
    wheels = _build_wheels(tmp_path, env)
    built = sorted(p.name for p in wheels.glob("*.whl"))
    version = _project("nb-core")["version"]
    assert built == [
        f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        for name in sorted(n for n, _ in PACKAGES.values())
    ]
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = str(venv / "bin" / "python")
    constraints = str(REPO / "constraints.txt")
    pip = [python, "-m", "pip", "install", "-q", "-c", constraints]
    _run([*pip, "torch==2.13.0"], tmp_path, env)
    names = [f"{name}=={version}" for name, _ in PACKAGES.values()]
    _run([*pip, "--find-links", str(wheels), *names], tmp_path, env)

    work = tmp_path / "work"
    work.mkdir()
    lines = _run([str(venv / "bin" / "nb"), "--version"], work, env).splitlines()
    for name, package in PACKAGES.values():
        assert f"{name} {version} ({package})" in lines
    assert any(line.startswith("torch 2.13.0") for line in lines)
    where = _run(
        [python, "-c", "import nb_cli, nb_core; print(nb_cli.__file__, nb_core.__file__)"],
        work,
        env,
    )
    assert str(REPO) not in where
    assert str(venv) in where
    help_text = _run([python, "-m", "nb_cli", "simulate", "--help"], work, env)
    assert "-distance" in help_text
    assert "compare" in _run([str(venv / "bin" / "nb"), "--help"], work, env)  # nb.commands

    _run([str(venv / "bin" / "nb"), *SIMULATE], work, env, timeout=300)
    installed = np.fromfile(work / "float.bin", dtype=np.float32)
    assert (work / "int.img").stat().st_size == 512 + 32 * 32 * 2

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(SIMULATE) == 0
    expected = np.fromfile(here / "float.bin", dtype=np.float32)
    assert expected.max() > 0
    assert np.abs(installed - expected).max() <= 1e-6 * expected.max()
