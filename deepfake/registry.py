"""Architectures by name: `@register_model` fills the table, `create_model("name", **kwargs)` builds one.

The checkpoint stores the name and kwargs, so loading never needs to know which class to import.
"""
import importlib
import inspect
from typing import TYPE_CHECKING, Callable, Dict, List

from .errors import DeepfakeError

if TYPE_CHECKING:  # annotations only: importing torch here would load it for `predict.py --help`
    import torch.nn as nn

_MODEL_BUILDERS: Dict[str, Callable[..., "nn.Module"]] = {}


def _registered() -> Dict[str, Callable[..., "nn.Module"]]:
    """The table, with the project's own architectures in it: their modules register themselves on import,
    which happens here, on the first lookup, rather than whenever the package is imported (it loads torch)."""
    importlib.import_module(f"{__package__}.models")
    return _MODEL_BUILDERS


def register_model(builder: Callable[..., "nn.Module"]) -> Callable[..., "nn.Module"]:
    name = builder.__name__
    if name in _MODEL_BUILDERS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODEL_BUILDERS[name] = builder
    return builder


def list_models() -> List[str]:
    return sorted(_registered())


def model_builder(name: str) -> Callable[..., "nn.Module"]:
    if name not in _registered():
        raise DeepfakeError(f"unknown architecture {name!r}; available: {', '.join(list_models())}")
    return _MODEL_BUILDERS[name]


def model_arguments(name: str) -> List[str]:
    """The keyword arguments an architecture's builder takes."""
    return list(inspect.signature(model_builder(name)).parameters)


def check_model_kwargs(name: str, kwargs: Dict) -> None:
    """A one-line error for an argument the architecture does not take, naming the ones it does."""
    accepted = model_arguments(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise DeepfakeError(f"architecture {name!r} takes no argument {', '.join(unknown)}; it takes: "
                            f"{', '.join(accepted) or 'none'}")


def create_model(name: str, **kwargs) -> "nn.Module":
    return model_builder(name)(**kwargs)
