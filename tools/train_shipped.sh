#!/usr/bin/env bash
# Train the shipped weights (weights/deepfake_cnn.safetensors) on all four shared sets with the v2 recipe.
#   bash tools/train_shipped.sh     # writes runs/v2/; copy runs/v2/best.safetensors to weights/ to ship it
# EPOCHS (default 4) epochs of EPOCH_SIZE (default 8000) images each.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
$PY train.py --data "${SETS[@]/#/$D/}" "${RECIPE[@]}" --epochs "${EPOCHS:-4}" --epoch-size "${EPOCH_SIZE:-8000}" \
  ${EXTRA[@]+"${EXTRA[@]}"} --out "${OUT:-runs/v2}"
