"""Pseudo-fakes made from real images: a registry of methods and the cache that makes each image once.

`sbi` (self-blended faces, self_blend.py) teaches the traces of a face swap; `autoencoder` (TAEF2, taef2.py)
those of a latent decoder. Each is deterministic: the random draws of an image's pseudo-fake are seeded by a
digest of its bytes, so the same real image gives the same pseudo-fake in every run and on every machine.
"""
from .cache import PseudoFakeCache
from .methods import METHODS, PseudoFakeMethod, create_method

__all__ = ["METHODS", "PseudoFakeCache", "PseudoFakeMethod", "create_method"]
