"""Inference: sampling and generation from a trained model (``rnnkit.load`` loads one)."""

from rnnkit.infer.generate import generate_tokens
from rnnkit.infer.sampling import SamplingConfig, filter_logits, sample_next

__all__ = ["generate_tokens", "SamplingConfig", "filter_logits", "sample_next"]
