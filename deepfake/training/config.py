"""TrainConfig: a training run's every setting and its default, checked as it is made (the one-line errors
train.py gives, and fit() from Python alike). Light to import: train.py --help reads its defaults."""
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence

from ..data.datasets import check_train_fraction
from ..data.transforms import DEFAULT_DEGRADATION_PROBABILITY, DEFAULT_REFRAME_PROBABILITY
from ..distributed import default_device
from ..errors import DeepfakeError
from ..preprocessing import DEFAULT_EVAL_CROPS
from ..registry import check_model_kwargs
from .recipes import PLAIN_DEFAULTS, SHIPPED_ARCH, recipe_defaults

DEFAULT_DATA = "data"  # what train.py and evaluate.py read when no --data is given
RECIPE_FIELDS = tuple(PLAIN_DEFAULTS)


@dataclass
class TrainConfig:
    """Every setting of a training run, with its default, in this one place: train.py's flags are these fields
    (tests/test_cli.py checks that none is dropped) and take their defaults from here, so `fit(TrainConfig())`
    trains what `python train.py` trains.

    The recipe fields (RECIPE_FIELDS: lr, weight_decay, img_size, resize, relight_probability, balance_sets)
    default to None, "the architecture's recipe": the shipped recipe for the shipped architecture
    (training/recipes.py), the plain defaults for any other. A value given wins over both."""
    data_dirs: Sequence[str] = (DEFAULT_DATA,)
    out_dir: str = "runs/train"
    arch: str = SHIPPED_ARCH
    model_kwargs: Dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 32
    lr: Optional[float] = None  # plain 5e-4: 2e-3 stalled the shipped recipe for its first 8 epochs
    weight_decay: Optional[float] = None
    img_size: Optional[int] = None
    eval_crops: int = DEFAULT_EVAL_CROPS
    mirror_views: bool = False  # validate (and later predict) on each crop and its mirror, logits averaged
    resize: Optional[int] = None
    faces: bool = False
    # The --data images are face crops already (the shared face sets are): trained on as they are, and the
    # checkpoint, like one trained under --faces, crops faces at prediction.
    face_crops: bool = False
    face_detector: str = "mtcnn"  # faces.detectors.FACE_DETECTORS: which one crops the faces under --faces
    val_fraction: float = 0.2
    train_fraction: float = 1.0  # < 1: train on that share of the training split (a learning curve's point)
    seed: int = 0
    workers: Optional[int] = None
    split_by: str = "source"  # real/NAME and fake/NAME on one side (see data.split_train_val)
    threshold_rule: str = "balanced_accuracy"
    augment: bool = True
    format_blind: bool = False  # every training image resized and re-encoded by one chain (data.format_blind)
    augment_probability: float = DEFAULT_DEGRADATION_PROBABILITY  # of each degradation (downscale, blur, JPEG)
    reframe_probability: float = DEFAULT_REFRAME_PROBABILITY  # of a random window of 75-100% of the image
    relight_probability: Optional[float] = None  # of each of brightness, contrast, saturation +-30%
    balance_sets: Optional[bool] = None  # every epoch draws alike from each --data folder
    mixup_alpha: float = 0.0  # 0: no mixup; else each batch blended with a shuffled copy (mixup.Mixup)
    ema_decay: float = 0.0  # 0: validate and ship the weights of the last step; else their moving average
    layer_decay: float = 1.0  # pretrained backbones: each stage below the head learns at this factor of the next
    feature_rounds: int = 4  # frozen backbones: augmented views cached per training image (epoch e uses e % R)
    init_cnn: Optional[str] = None  # fused models: start the artifact branch from this checkpoint's CNN
    # two-view models: branch name -> the trained checkpoint it starts from (models/two_view.py)
    init_branches: Dict[str, str] = field(default_factory=dict)
    init_from: Optional[str] = None  # start every weight from this checkpoint of the same model (fine-tune it)
    pseudo_fakes: Sequence[str] = ()  # synthesis.METHODS made from the training reals (and validation's if reals_only)
    reals_only: bool = False  # drop the sets' fakes: train and validate on reals and their pseudo-fakes alone
    pseudo_fake_cache: Optional[str] = None  # default OUT/pseudo_fakes; share it between runs to make each once
    taef2: Optional[str] = None  # the autoencoder pseudo-fakes' weights folder (default ../shared/anchors/taef2)
    epoch_size: int = 0  # 0: an epoch is every training image once; else this many, drawn afresh each epoch
    amp: bool = False
    resume: Optional[str] = None
    device: Optional[str] = None  # None: cuda when available, else cpu
    show_progress: bool = True

    @classmethod
    def for_arch(cls, arch: str, **given) -> "TrainConfig":
        """The run of `arch` with its recipe, `given` settings winning: what `train.py --arch ARCH ...` builds."""
        return cls(arch=arch, **given)

    def __post_init__(self):
        """Every range a setting must keep, checked before any folder is scanned, so that fit() from Python
        gets the same one-line errors as train.py; each names the train.py flag of its field."""
        self.pseudo_fakes = tuple(self.pseudo_fakes)
        self.data_dirs = list(self.data_dirs)
        for name, value in recipe_defaults(self.arch, {name: getattr(self, name) for name in RECIPE_FIELDS}).items():
            setattr(self, name, value)
        if self.device is None:
            import torch
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.epochs < 1 or self.batch_size < 1 or self.img_size < 8:
            raise DeepfakeError("--epochs and --batch-size must be at least 1, --img-size at least 8")
        if self.workers is not None and self.workers < 0:
            raise DeepfakeError(f"--workers must be at least 0 (0: decode in the main process), not {self.workers}")
        if self.resize and self.resize < self.img_size:
            raise DeepfakeError(f"--resize must be 0 or at least --img-size ({self.img_size}), not {self.resize}")
        for flag, probability in (("--augment-probability", self.augment_probability),
                                  ("--reframe-probability", self.reframe_probability),
                                  ("--relight-probability", self.relight_probability)):
            if not 0 <= probability <= 1:
                raise DeepfakeError(f"{flag} must be between 0 and 1, not {probability}")
        if self.weight_decay < 0:
            raise DeepfakeError(f"--weight-decay must be at least 0, not {self.weight_decay}")
        if not 0 < self.val_fraction < 1:
            raise DeepfakeError(f"--val-fraction must be between 0 and 1, not {self.val_fraction}")
        if self.init_from and self.init_cnn:
            raise DeepfakeError("--init-from starts the whole model, --init-cnn its CNN branch: pass one of them")
        if self.init_from and self.init_branches:
            raise DeepfakeError("--init-from starts the whole model, --init-branch its branches: pass one of them")
        check_train_fraction(self.train_fraction)
        if self.mixup_alpha < 0:
            raise DeepfakeError(f"--mixup must be 0 (off) or positive, not {self.mixup_alpha}")
        if not 0 <= self.ema_decay < 1:
            raise DeepfakeError(f"--ema-decay must be 0 (off) or between 0 and 1, not {self.ema_decay}")
        if not 0 < self.layer_decay <= 1:
            raise DeepfakeError(f"--layer-decay must be in (0, 1], not {self.layer_decay}")
        if self.feature_rounds < 1:
            raise DeepfakeError(f"--feature-rounds must be at least 1, not {self.feature_rounds}")
        if self.epoch_size < 0:
            raise DeepfakeError(f"--epoch-size must be 0 (every image) or positive, not {self.epoch_size}")
        if self.reals_only and not self.pseudo_fakes:
            raise DeepfakeError("--reals-only leaves out every fake of the sets: add --pseudo-fakes sbi and/or "
                                "autoencoder to learn from")
        check_model_kwargs(self.arch, self.model_kwargs)
        default_device(self.device)
