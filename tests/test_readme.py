"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_api_example_runs() -> None:
    text = README.read_text()
    match = re.search(r"## Python API\n\n```python\n(.*?)```", text, re.S)
    assert match is not None
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    result = namespace["result"]
    assert abs(result.values["distance"] - 100.0) < 0.05  # type: ignore[attr-defined]
    images = namespace["images"]
    assert tuple(images.shape) == (2, 96, 96)  # type: ignore[attr-defined]
