"""Inference: sampling, generation and loading trained runs."""

from rnnkit.infer.generate import generate_tokens
from rnnkit.infer.load import load
from rnnkit.infer.predict import Prediction, classify, tag
from rnnkit.infer.sampling import SamplingConfig, filter_logits, sample_next

__all__ = ["load", "generate_tokens", "SamplingConfig", "filter_logits", "sample_next",
           "Prediction", "classify", "tag"]
