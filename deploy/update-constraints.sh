#!/usr/bin/env bash
# Regenerate deploy/constraints.txt: install the project into a throwaway virtualenv with the
# image's Python minor version and freeze what it pulled in. Run it after changing the
# dependencies in pyproject.toml, then review the diff.
#
#   bash deploy/update-constraints.sh            # uses python3.11, else python3
#   PYTHON=/usr/bin/python3.11 bash deploy/update-constraints.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
want=3.11 # keep in step with PYTHON_IMAGE in deploy/Dockerfile
have=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [[ $have != "$want" ]]; then
  echo "update-constraints: $python is Python $have; the image runs $want (set PYTHON=...)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A copy of the tree, so that building the project leaves nothing behind in the repo.
tar -C "$repo" --exclude=./.git --exclude=./.venv --exclude=./.linkport --exclude='*/.tools' \
  --exclude='*/__pycache__' --exclude='*.egg-info' --exclude=./build -cf - . | tar -C "$work" -xf - --one-top-level=src
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
# With the [tracing] extra: the image can export traces (LINKPORT_TRACING=otlp).
"$work/venv/bin/python" -m pip install --quiet "$work/src[tracing]"

{
  echo "# Linkport's runtime dependencies, pinned: deploy/Dockerfile installs exactly these."
  echo "# Resolved for Python $want from pyproject.toml; regenerate with deploy/update-constraints.sh."
  "$work/venv/bin/python" -m pip freeze --exclude linkport
} >"$repo/deploy/constraints.txt"
echo "wrote deploy/constraints.txt ($(grep -c '==' "$repo/deploy/constraints.txt") packages)"
