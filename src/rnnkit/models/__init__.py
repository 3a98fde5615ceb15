"""Models, one file per topology."""

from rnnkit.models.lm import LanguageModel, LMConfig

__all__ = ["LanguageModel", "LMConfig"]
