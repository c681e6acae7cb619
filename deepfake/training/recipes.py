"""What train.py uses for a flag the user did not give, by architecture: the recipe its weights were trained
with. `python train.py --data DIR` trains with the shipped recipe (weights/MODEL_CARD.md, tools/recipe.sh); another
--arch takes the plain defaults, and any flag given on the command line wins over both."""
from typing import Dict

SHIPPED_ARCH = "mobilenet_v2"
SEES_WHOLE_IMAGE = "img_size"  # a resize equal to the crop: the network sees the whole image

PLAIN_DEFAULTS: Dict[str, object] = {
    "img_size": 128, "resize": 0, "lr": 5e-4, "weight_decay": 1e-4, "relight_probability": 0.0,
    "balance_sets": False,
}
# MobileNetV2 from its wheel fine-tuned whole at its native 224 px, each image seen whole, an equal share of
# each --data folder per epoch (docs/experiments.md: issue 23's table and the v2 recipe's runs).
RECIPES: Dict[str, Dict[str, object]] = {
    SHIPPED_ARCH: {"img_size": 224, "resize": SEES_WHOLE_IMAGE, "lr": 3e-4, "weight_decay": 0.05,
                   "relight_probability": 0.3, "balance_sets": True},
}


def recipe_defaults(arch: str, given: Dict[str, object]) -> Dict[str, object]:
    """The value of each recipe flag for `arch`: as given (not None), else the architecture's recipe, else the
    plain default. A recipe that sees the whole image resizes to the crop size in force."""
    chosen = {}
    for name, plain in PLAIN_DEFAULTS.items():
        value = given.get(name)
        chosen[name] = value if value is not None else RECIPES.get(arch, {}).get(name, plain)
    if chosen["resize"] == SEES_WHOLE_IMAGE:
        chosen["resize"] = chosen["img_size"]
    return chosen


def describe_recipe(arch: str) -> str:
    """The recipe as train.py flags, for --help."""
    flags = []
    for name, value in RECIPES[arch].items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value == SEES_WHOLE_IMAGE:
            flags.append(f"{flag} <--img-size>")
        else:
            flags.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    return " ".join(flags)
