"""``multitask``: the upper bound: every wake steps all contexts of the protocol together.

The joint-training ("multitask") reference of the continual-learning literature (e.g. the
upper bound of Continual World, Wolczyk et al. 2021; of Progress & Compress, Schwarz et al.
2018): the learner never sees one context alone, so nothing it learns is overwritten by a
conflicting context learned later. What is adapted to our protocol:

- Each wake phase keeps its env-step budget (``steps``), but the experiment deals the
  protocol's contexts round-robin over the learner's ``n_envs`` copies of the env
  (``envs/vector.py``, ``make_vec``): with 8 envs and contexts A, B, four envs
  step A and four step B. So each context gets about ``steps / n_contexts`` of every wake,
  and the total budget equals that of the sequential strategies. ``n_envs`` must be at least
  the number of contexts. The mix is the same in every wake, in protocol order; the earlier
  contexts get the extra envs when ``n_envs`` is not a multiple of their number.
- Every transition of a wake is tagged with the phase's own task id (the tagging callback
  knows one task per wake), whatever context produced it; with the context cue in the
  observation the states still tell the contexts apart.
- By default it is a plain cortical baseline: ``sleep`` returns None and the student stays
  untrained, so only the cortical rows of R are meaningful. With ``distill_in_sleep`` each
  sleep runs :class:`consolidation.sleep.Sleep` with the configured keywords: the multitask
  cortex (relabelled on the phase's memories, which hold every context) is distilled into
  the student, an upper bound for the student's rows too.

The experiment's ``agent.reset_optimizer_on_switch`` still clears the cortex's optimizer
moments when the protocol's phase context changes, although the multitask mix does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consolidation.neuromodulation import GatingSettings
from consolidation.sleep import SleepSettings
from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("multitask")
class Multitask(SleepConsolidation):
    """Upper bound: all protocol contexts stepped together in every wake; no sleep by default.

    Args:
        distill_in_sleep: in sleep phases, distil the cortex into the student with
            :class:`consolidation.sleep.Sleep` (False: sleep does nothing).
        the other keywords: those of :class:`consolidation.sleep.SleepSettings` (validated even
            when ``distill_in_sleep`` is False, so that a bad value fails at start either way).
    """

    shares_wake = False  # every wake steps all contexts: never plain fine-tuning

    @dataclass
    class Schema(SleepSettings):
        """Our sleep's settings (distillation of every context's memories, uniform replay) plus
        ``distill_in_sleep``."""

        distill_in_sleep: bool = False
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="off"))

    def wake_contexts(self, context: str, protocol_contexts: list[str]) -> list[str]:
        """Every context of the protocol, in protocol order (the phase's own is among them)."""
        return list(protocol_contexts)

    def sleep(self, student, memory, task, learner, seed, updates, logger=None):
        """Nothing (None) unless ``distill_in_sleep``; then one :class:`Sleep` run."""
        if not self.settings.distill_in_sleep:
            return None
        return super().sleep(student, memory, task, learner, seed, updates, logger)
