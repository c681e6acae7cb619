#!/usr/bin/env bash
# Reals only: train on the four shared sets' real images and their pseudo-fakes, never on a real fake (the
# validation that picks the epoch and threshold holds no real fake either), then score each set's held-back
# reals against its real fakes: the proxy for a generator no one has seen.
#   bash experiments/reals_only.sh                                  # self-blended pseudo-fakes
#   FLAGS="--pseudo-fakes sbi autoencoder" TAG=sbi_ae bash experiments/reals_only.sh
# Writes runs/reals_only[_TAG]/ and runs/card/reals_only[_TAG]_<set>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
NAME=reals_only${TAG:+_$TAG}
OUT=runs/$NAME
mkdir -p runs/card
$PY train.py --data "${SETS[@]/#/$D/}" "${RECIPE[@]}" --pseudo-fakes sbi --reals-only --epochs "${EPOCHS:-2}" \
  --epoch-size "${EPOCH_SIZE:-4000}" ${EXTRA[@]+"${EXTRA[@]}"} --out "$OUT"
for set in "${SETS[@]}"; do
  $PY evaluate.py --data "$D/$set" --split val --weights "$OUT/best.safetensors" --json "runs/card/${NAME}_$set.json"
done
