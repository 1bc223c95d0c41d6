"""The container deployment of `make rehearsal`, timed: from `docker run` of the code server to the code
location loaded in the webserver, and the run launch latency (from the daemon handing a queued run to the
DockerRunLauncher, RUN_STARTING, to that run's container running our code, RUN_START) over every run of
the rehearsal (about a dozen, several at once, so the median includes the machine being shared).

    cd benchmarks && ../.venv/bin/python deploy_containers.py     # needs `make image` first
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "deploy_containers.json"
    target.unlink(missing_ok=True)
    env = os.environ | {"CARTERA_REHEARSAL": "1", "CARTERA_REHEARSAL_FIGURES": str(target)}
    test = ROOT / "cartera_pipelines_tests" / "deploy" / "test_rehearsal.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--timeout", "2400", str(test)], cwd=ROOT, env=env, check=False
    )
    if not target.exists():
        sys.exit(f"the rehearsal wrote no figures (pytest exit status {result.returncode})")
    print(json.dumps(json.loads(target.read_text()), indent=2))
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
