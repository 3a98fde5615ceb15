"""Models, one file per topology."""

from rnnkit.models.encoders import ENCODERS, build_encoder
from rnnkit.models.lm import LanguageModel, LMConfig

__all__ = ["ENCODERS", "build_encoder", "LanguageModel", "LMConfig"]
