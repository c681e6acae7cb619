#!/usr/bin/env bash
# The aligned pairs of the photographs issue: every real image of the corpus (its training sources and its real
# pool) and of the shared sets, beside its own TAEF2 reconstruction at native scale:
#   bash tools/build_aligned.sh        # writes data/aligned/<source>/ and data/aligned/pool/<source>/
# Each folder is `python -m deepfake.synthesize autoencoder` over one source's reals: real/<pair>/ links the
# photo, fake/<pair>/ holds its reconstruction (PNG), so `train.py --data data/aligned/<source>` reads it and
# the default --split-by source keeps each pair on one side. A photo above MAX_PIXELS (default 1024 x 1024)
# gives its central crop of that size at native scale, written as PNG on both sides: the training crops are
# 224 px, and whole 12-megapixel photos would cost hours each batch. Made once: an interrupted run resumes where
# it stopped (files already written are kept). Photographs go first, face crops last. THREADS (default 1)
# leaves the other core free; about 1.6 s per 512-px photo on one core with bfloat16, 4 s without.
# MAX_PER_SOURCE (default 300, 0: all) caps each folder, chosen by a hash of the path: a working machine keeps
# data/ only for its session, and every real photo of the corpus (about 7,600, most capped at 1 megapixel) takes
# several hours on 2 cores, so a session that trains on the pairs builds a capped set first.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
CORPUS="${CORPUS:-data/corpus}"
SHARED="${SHARED:-../shared/datasets}"
OUT="${OUT:-data/aligned}"
export OMP_NUM_THREADS="${THREADS:-1}"
FACE_SETS="faces-stylegan faceswap-frames dfdc-faces"

synthesize() {  # REAL_DIR OUT_DIR
  [ -d "$1" ] || return 0
  echo "== $1 -> $2"
  $PY -m deepfake.synthesize autoencoder --data "$1" --out "$2" --max-pixels "${MAX_PIXELS:-1048576}" \
    --max-images "${MAX_PER_SOURCE:-300}"
}

synthesize "$SHARED/diffusion-coco" "$OUT/diffusion-coco"
for source in "$CORPUS"/pool/real/*; do
  [ -d "$source" ] && synthesize "$source" "$OUT/pool/$(basename "$source")"
done
for source in "$CORPUS"/sources/*; do
  name=$(basename "$source")
  [[ " $FACE_SETS diffusion-coco " == *" $name "* ]] && continue
  [ -d "$source/real" ] && synthesize "$source/real" "$OUT/$name"
done
for name in $FACE_SETS; do
  synthesize "$SHARED/$name" "$OUT/$name"
done
