"""Experiments that measure the explainer's claims on this machine (``rnnkit experiment``).

Each experiment trains small models within a budget and returns a :class:`~.common.Result`
(table, plots, findings). They sit above ``train`` (they use its Trainer) beside ``infer``.
"""

from rnnkit.experiments.common import BUDGETS, Budget, Result, write_result
from rnnkit.experiments.registry import EXPERIMENTS, run_experiment

__all__ = ["BUDGETS", "Budget", "EXPERIMENTS", "Result", "run_experiment", "write_result"]
