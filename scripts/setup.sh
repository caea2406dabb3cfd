#!/usr/bin/env bash
# Set up motorsleep in ./.venv (Python 3.11): the Debian libraries for offscreen MuJoCo
# rendering, the CPU build of torch, then the project with its test tools and the submitit
# launcher (extra `submitit`, so that tests/test_launchers.py runs). Safe to run again: what is
# installed is kept, and a second run takes seconds.
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

# --- Debian libraries for offscreen MuJoCo rendering ------------------------------------------------
# MUJOCO_GL=egl (the default) on Mesa's software rasteriser: libegl1 libopengl0 libgl1-mesa-dri;
# MUJOCO_GL=osmesa: libosmesa6. Installed with apt-get only when one of them is missing and we are
# root; elsewhere a warning, and setup goes on: only rendering needs them, not training or the tests
# of the learning code. Set MESA_PACKAGES to change the list (MESA_PACKAGES= skips this block).
MESA_PACKAGES="${MESA_PACKAGES-libegl1 libopengl0 libgl1-mesa-dri libosmesa6}"
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in $MESA_PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
elif [ -n "$MESA_PACKAGES" ]; then
  echo "setup: note: not a Debian system; offscreen rendering needs EGL or OSMesa (Debian: $MESA_PACKAGES)" >&2
fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]} for offscreen rendering" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           "${missing[@]}" >/dev/null; }; then
      echo "setup: warning: apt-get could not install ${missing[*]}; offscreen rendering may not work" >&2
    fi
  else
    echo "setup: warning: ${missing[*]} missing (needed for offscreen rendering); install them as root:" \
         "apt-get install ${missing[*]}" >&2
  fi
fi
# ---------------------------------------------------------------------------------------------------

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)

if ! .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
  echo "setup: installing the CPU build of torch 2.13.0" >&2
  "${PIP[@]}" install "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
echo "setup: installing motorsleep and its dependencies" >&2
"${PIP[@]}" install -e ".[dev,submitit]"
.venv/bin/python - <<'PY'
import sys, torch
if torch.version.cuda is not None:
    sys.exit(f"setup: torch {torch.__version__} is a CUDA build; remove .venv and rerun with TORCH_INDEX_URL set")
print(f"setup: ready (python {sys.version.split()[0]}, torch {torch.__version__})", file=sys.stderr)
PY
