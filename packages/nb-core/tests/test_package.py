"""The package's public names: torch-free ones at import, the rest on first use."""

from __future__ import annotations

import subprocess
import sys


def _fresh(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_the_package_and_its_readers_leaves_torch_out() -> None:
    code = (
        "import sys, nb_core, nb_core.io, nb_core.settings, nb_core.options\n"
        "print('torch' in sys.modules, nb_core.Settings().oversample)\n"
    )
    assert _fresh(code) == "False -1"


def test_functions_named_like_their_modules_stay_functions() -> None:
    code = (
        "import inspect, sys, nb_core\n"
        "import nb_core.render, nb_core.resolve\n"
        "from nb_core import Params, render, resolve\n"
        "print(inspect.isfunction(nb_core.render), nb_core.render is render,\n"
        "      inspect.isfunction(nb_core.resolve), nb_core.resolve is resolve,\n"
        "      Params is sys.modules['nb_core.params'].Params,\n"
        "      render is sys.modules['nb_core.render'].render,\n"
        "      set(nb_core.__all__) <= set(dir(nb_core)))\n"
    )
    assert _fresh(code) == "True True True True True True True"
