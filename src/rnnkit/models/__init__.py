"""Models, one file per topology."""

from rnnkit.models.encoders import ENCODERS, build_encoder
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.pooling import POOLINGS, Pooling
from rnnkit.models.tagger import Tagger, TaggerConfig

__all__ = ["ENCODERS", "build_encoder", "LanguageModel", "LMConfig", "ClassifierConfig",
           "SequenceClassifier", "Forecaster", "ForecasterConfig", "POOLINGS", "Pooling", "Tagger", "TaggerConfig"]
