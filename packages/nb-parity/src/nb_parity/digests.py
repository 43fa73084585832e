"""Bit-for-bit fingerprints of nb's golden-case outputs, to prove a refactoring changed nothing.

``python -m nb_parity.digests --out before.json`` renders every golden case through
``nb simulate``'s own path (:func:`nb_cli.simulate.prepare` and
:func:`nb_cli.simulate.run_simulation`) in float64 and records the SHA-256 of the float64
image as rendered, of every file written and of the console lines. Run it again on the
changed code with ``--against before.json``: it lists every case whose fingerprint moved and
exits 1 if any did. Both runs must be on the same machine (another CPU may round differently).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["case_digests", "main"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def case_digests(case_dir: Path, flags: list[str], inputs: list[str]) -> dict[str, str]:
    """SHA-256 digests of one case's float64 render, output files and console lines.

    Args:
        case_dir: The golden case folder (its inputs are copied from there).
        flags: The case's argv.
        inputs: Input file names in ``case_dir``.

    Returns:
        ``{"render": ..., "<output file>": ..., "console": ...}``.
    """
    import torch

    from nb_cli.simulate import prepare, run_simulation
    from nb_core.render import render
    from nb_parity.golden import inside

    with tempfile.TemporaryDirectory(prefix="nb-digest-") as tmp:
        work = Path(tmp)
        for name in inputs:
            shutil.copy(case_dir / name, work / name)
        with inside(work):
            prepared = prepare([*flags, "-dtype", "float64"], workdir=work)
            exp = prepared.experiment
            with torch.no_grad():
                image = render(exp.params, exp.static)
            digests = {"render": _sha(image.contiguous().numpy().tobytes())}
            lines: list[str] = []
            run_simulation(prepared, say=lines.append)
            for path in sorted(work.iterdir()):
                if path.name not in inputs and path.is_file():
                    digests[path.name] = _sha(path.read_bytes())
            digests["console"] = _sha("\n".join(lines).encode())
    return digests


def main(argv: list[str] | None = None) -> int:
    """Write the golden digests (``--out``) and compare them with earlier ones (``--against``).

    Returns:
        0 when nothing moved (or nothing to compare), 1 when a digest differs.
    """
    from nb_parity.golden import find_golden_root, load_cases

    parser = argparse.ArgumentParser(prog="python -m nb_parity.digests")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--against", type=Path, help="earlier JSON file to compare with")
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args(argv)
    root = find_golden_root(Path.cwd())
    if root is None:
        parser.error("no golden corpus found (set NB_GOLDEN_DIR or put ../shared beside the repo)")
    only = {n for n in args.only.split(",") if n}
    result = {
        case.name: case_digests(case.path, case.flags, case.inputs)
        for case in load_cases(root)
        if not only or case.name in only
    }
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    if args.against is None:
        print(f"{len(result)} cases fingerprinted into {args.out}")
        return 0
    earlier = json.loads(args.against.read_text())
    moved = [
        f"{name}: {key}"
        for name, digests in result.items()
        for key, value in digests.items()
        if earlier.get(name, {}).get(key) != value
    ]
    for line in moved:
        print(f"changed  {line}")
    print(f"{len(result)} cases, {len(moved)} fingerprints changed")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
