# The detector-v2 recipe, sourced by the scripts that train it (train_shipped.sh, cross_domain.sh,
# reals_only.sh):
# MobileNetV2 from its wheel fine-tuned whole at its native 224 px (docs/experiments.md, issue 23's table) and
# an equal share of each set per epoch. No pseudo-fakes: self-blended ones cost in distribution and across
# sets alike (docs/experiments.md, issue 24); FLAGS="--pseudo-fakes sbi" adds them, cached in runs/pseudo_fakes.
PY=.venv/bin/python
D=../shared/datasets
SETS=(faces-stylegan diffusion-coco faceswap-frames dfdc-faces)
RECIPE=(--arch mobilenet_v2 --resize 224 --img-size 224 --lr 3e-4 --balance-sets --weight-decay 0.05
        --relight-probability 0.3 --pseudo-fake-cache runs/pseudo_fakes)
# bfloat16 autocast (--amp) doubles the model's speed where the CPU has bfloat16 instructions (the model card's
# speed table) or on a GPU; emulated, it is several times slower: on 2 cores without them, one MobileNetV2 step
# on 32 images took 12 s in float32 and 43-131 s under autocast (2026-12-02, another run sharing the cores).
if grep -q -E 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null || command -v nvidia-smi > /dev/null; then
  RECIPE+=(--amp)
fi
read -ra EXTRA <<< "${FLAGS:-}"  # any train.py flags to add (later flags override the recipe's)
