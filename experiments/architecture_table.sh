#!/usr/bin/env bash
# One row of docs/experiments.md's architecture table, for one checkpoint trained on the three shared sets:
# per-set validation ROC-AUC, ECE and robustness drops, the cost of the architecture, and end-to-end speed
# against torchvision's ResNet-50 measured in the same run.
#   bash experiments/architecture_table.sh runs/NAME/best.safetensors NAME
# Writes runs/table/NAME.<set>.json, NAME.costs.json and NAME.bench.txt; then
#   .venv/bin/python experiments/architecture_table.py NAME [NAME ...]
# prints the rows. SKIP_BENCH=1 leaves the speed out (it wants an idle machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
D=../shared/datasets
W=${1:?name a checkpoint}
NAME=${2:?name the row}
mkdir -p runs/table
for set in faces-stylegan diffusion-coco faceswap-frames; do
  per_video=(); [ "$set" = faceswap-frames ] && per_video=(--per-video)
  [ -s "runs/table/$NAME.$set.json" ] || $PY evaluate.py --data "$D/$set" --split val --robustness \
    ${per_video[@]+"${per_video[@]}"} --weights "$W" --json "runs/table/$NAME.$set.json" > /dev/null
done
$PY experiments/architecture_costs.py --weights "$W" --json "runs/table/$NAME.costs.json"
[ -n "${SKIP_BENCH:-}" ] || $PY benchmarks/inference.py --weights "$W" --images 100 > "runs/table/$NAME.bench.txt"
[ -n "${SKIP_BENCH:-}" ] || $PY benchmarks/cold_start.py --runs 3 --weights "$W" > "runs/table/$NAME.cold.txt"
