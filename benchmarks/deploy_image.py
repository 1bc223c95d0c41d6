"""The image of `make image`: its size, and how long it takes to build cold (no base image, no build
cache), cached (nothing changed) and after a code-only change (one file of the package edited).

The builds run from a `git archive HEAD` copy of the repository (uncommitted changes are not measured), as
a fresh clone would. `--cold` first removes the base images (cartera-base:*) and the whole BuildKit cache
of this dockerd: the next `make image` rebuilds everything as well.

    cd benchmarks && ../.venv/bin/python deploy_image.py [--cold]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")


def docker(*args: str) -> str:
    return subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True).stdout.strip()


def build(tree: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", str(tree / "scripts" / "build_image.sh")], check=True, capture_output=True)
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cold", action="store_true", help="remove the base images and the build cache first"
    )
    args = parser.parse_args()
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure_docker.sh")], check=True)
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="cartera-image-bench-") as tmp:
        tree = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        if args.cold:
            bases = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "cartera-base").split()
            if bases:
                docker("rmi", "-f", *bases)
            docker("builder", "prune", "-af")
            figures["cold_build_seconds"] = build(tree)
        figures["cached_build_seconds"] = build(tree)
        package = tree / "cartera_pipelines" / "__init__.py"
        package.write_text(package.read_text() + "\n# a code-only change\n")
        figures["code_change_build_seconds"] = build(tree)
    version = next(
        line.split('"')[1]
        for line in (ROOT / "pyproject.toml").read_text().splitlines()
        if line.startswith("version")
    )
    image = f"ghcr.io/cartera/cartera-pipelines:{version}"
    figures["image"] = image
    figures["image_size_gb"] = round(int(docker("image", "inspect", "--format", "{{.Size}}", image)) / 1e9, 2)
    figures["base_size_mb"] = round(
        int(docker("image", "inspect", "--format", "{{.Size}}", "cartera-base:bookworm")) / 1e6
    )
    figures["layers"] = len(
        json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image))
    )
    # the image the benchmark leaves is the edited copy's: rebuild the real tree's, cached
    subprocess.run(["bash", str(ROOT / "scripts" / "build_image.sh")], check=True, capture_output=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "deploy_image.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
