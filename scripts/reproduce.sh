#!/usr/bin/env bash
# Rebuild the README's headline results from scratch: set up, run the benchmark (every strategy x
# both families x 10 seeds, experiment=bench, 2 workers, with the phase cache; preceded by the
# cache-vs-no-cache timing on a small grid), then the report (tables with rliable intervals,
# figures, per-run CSV, the README's results block). Restartable: finished runs are kept.
#
#   ./scripts/reproduce.sh                 # hours on 2 cores at the issue-12 budgets (worker time: the report's timing line)
#   JOBS=4 OUT=/scratch/bench ./scripts/reproduce.sh
#
# A cluster runs the same grid through Hydra's launchers instead (README, "Beyond one machine").
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"
OUT="${OUT:-runs/benchmark}"
CACHE_DIR="${CACHE_DIR:-$OUT/cache}"
setup_start=$(date +%s)
./scripts/setup.sh
start=$(date +%s)
.venv/bin/python scripts/benchmark.py --jobs "$JOBS" --out "$OUT" --cache-dir "$CACHE_DIR" --cache-timing
.venv/bin/python scripts/report.py --runs "$OUT" --name benchmark --timing "$OUT/timing.json" --save-runs --readme \
    --started "$start"
echo "reproduce: done in $(( ($(date +%s) - start) / 60 )) min after the setup (which took $(( start - setup_start )) s)"
echo "reproduce: runs in $OUT; tables, figures and per-run CSV in results/benchmark; README.md results block updated"
