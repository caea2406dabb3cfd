"""``none``: no sleep, no protection: the cortical learner fine-tuned on one context after another."""

from __future__ import annotations

from consolidation.strategies.base import Strategy, register


@register("none")
class FineTuning(Strategy):
    """The lower bound every other strategy is measured against: sleep phases do nothing, so
    the student stays untrained and only the cortex is scored meaningfully."""

    shares_wake = True  # its wake is plain fine-tuning
    acts_through_teacher = True  # it never consolidates
