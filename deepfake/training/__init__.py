"""The training loop: epochs, the run (split, best checkpoint, resume), EMA, mixup, the frozen-feature cache.
Prediction never imports this package (tests/test_layers.py)."""
