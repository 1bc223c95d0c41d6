"""How long the code location takes to load: `dagster definitions validate` end to end (with the
workspace file and with the module), the same command on a one-asset module (the CLI's own floor),
and the bare import + build of the Definitions object. Target (issue 2): under 5 s.

    cd benchmarks && ../.venv/bin/python load_time.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def timed(command: list[str], repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


FLOOR = """import dagster as dg


@dg.asset
def a() -> int:
    return 1


defs = dg.Definitions(assets=[a])
"""


def main() -> None:
    validate = timed([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"])
    validate_module = timed(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "cartera_pipelines.definitions"]
    )
    # the same command on a one-asset module: what the CLI itself costs on this machine
    with tempfile.TemporaryDirectory() as tmp:
        floor_file = Path(tmp) / "floor_defs.py"
        floor_file.write_text(FLOOR)
        floor = timed([sys.executable, "-m", "dagster", "definitions", "validate", "-f", str(floor_file)])
    build = timed(
        [
            sys.executable,
            "-c",
            "from cartera_pipelines.definitions import defs; defs().get_repository_def().asset_graph",
        ]
    )
    bare = timed([sys.executable, "-c", "import dagster"])
    figures = {
        "dagster_definitions_validate_workspace_s": round(validate, 2),
        "dagster_definitions_validate_module_s": round(validate_module, 2),
        "same_command_one_asset_floor_s": round(floor, 2),
        "import_and_build_definitions_s": round(build, 2),
        "import_dagster_only_s": round(bare, 2),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load_time.json").write_text(json.dumps(figures, indent=2))
    for name, value in figures.items():
        print(f"{name:<36} {value:>6.2f}")


if __name__ == "__main__":
    main()
