#!/usr/bin/env bash
# Set up motorsleep in ./.venv (Python 3.11): the CPU build of torch first, then the
# project with its test tools. Safe to run again: what is installed is kept.
#
# torch goes first on purpose: with no torch installed, any package asking for `torch`
# would pull a multi-GB CUDA build. `torch==2.13.0` resolves to the CPU wheel on machines
# that carry it locally (pip's find-links); elsewhere set TORCH_INDEX_URL, e.g.
# https://download.pytorch.org/whl/cpu, to take the CPU build from PyTorch's index.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
  done
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: motorsleep needs Python 3.11; $PYTHON is $("$PYTHON" -V 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)

if ! .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
  echo "setup: installing the CPU build of torch 2.13.0" >&2
  "${PIP[@]}" install "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
echo "setup: installing motorsleep and its dependencies" >&2
"${PIP[@]}" install -e ".[dev]"
.venv/bin/python - <<'PY'
import sys, torch
if torch.version.cuda is not None:
    sys.exit(f"setup: torch {torch.__version__} is a CUDA build; remove .venv and rerun with TORCH_INDEX_URL set")
print(f"setup: ready (python {sys.version.split()[0]}, torch {torch.__version__})", file=sys.stderr)
PY
