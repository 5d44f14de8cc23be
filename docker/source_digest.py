"""A digest of the sources an image is built from: pyproject.toml, lab/, services/, the Dockerfile
and the image's scripts. docker/build-images.sh labels the image with it; lab/docker_runtime.py and
tests/docker compare it with the tree's, so a stale image is named as such instead of being
tested or run as if it were the current code. Standard library only (it runs before the project
is installed). `python docker/source_digest.py [ROOT]` prints it.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

LABEL = "org.okta-workspaces-lab.source"
IMAGE_FILES = ("pyproject.toml", "Dockerfile", "docker/entrypoint.py", "docker/healthcheck.py",
               "docker/config/topology.json")
SOURCE_DIRS = ("lab", "services")


def source_digest(root: Path) -> str:
    files = [root / f for f in IMAGE_FILES if (root / f).is_file()]
    for folder in SOURCE_DIRS:
        files += [p for p in (root / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


if __name__ == "__main__":
    print(source_digest(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)))
