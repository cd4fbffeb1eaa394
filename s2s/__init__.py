"""Shared, pure ML layer: tokenizer, corpus, model presets, checkpoints, decoding, evaluation and losses.

The teacher service, the gateway and the student trainer all import this package and never each other.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
