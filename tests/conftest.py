"""The golden corpus for the end-to-end tests.

The ``device`` and ``dtype`` fixtures, ``shared_dir`` and the Hypothesis profiles come from the
repository's root ``conftest.py``; the tolerances from :data:`nb_parity.tolerances.TOLERANCE`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nb_parity.golden import GoldenCase, find_golden_root, load_cases


def _inductor_cache_per_capability() -> None:
    """Keep torch.compile's kernel cache apart per CPU capability.

    Inductor's on-disk cache is not keyed on ``ATEN_CPU_CAPABILITY``: a kernel built under
    AVX512 and loaded under AVX2 fails ("tuple args required"). The suite is run under several
    capabilities on one machine, so each gets its own cache folder.
    """
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    capability = torch.backends.cpu.get_cpu_capability()
    user = os.environ.get("USER") or str(os.getuid())
    folder = Path(tempfile.gettempdir()) / f"torchinductor_{user}_{capability}"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


_inductor_cache_per_capability()

REPO = Path(__file__).resolve().parents[1]


def golden_cases() -> list[GoldenCase]:
    """The golden cases, or an empty list without ../shared."""
    root = find_golden_root(REPO)
    return load_cases(root) if root is not None else []
