"""What the headline numbers say, in sentences whose every number and verdict is computed from
the per-run metrics (``runs.csv``), so that the README's reading of the tables cannot drift
from them. Comparisons between strategies are paired by seed; intervals are stratified
bootstrap intervals of the mean over seeds (reporting/intervals.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from reporting.intervals import interval, interval_verdict, mean_interval_text

LEARNED = 0.9                       # the bar for "learned"
CEILING = 1.05                      # a raw score above this beats the reference that defines 1
PLASTICITY_BAR = 1.5                # B from A's weights within this many times A's from-scratch steps
REPLAY_STUDENTS = ("replay_distill", "gated", "gated_shuffled", "full")
CORTEX_BASELINES = ("l2", "ewc", "online_ewc", "mas", "clear", "progress_compress")


class Findings:
    """Sentences about one family's runs; each reads the tidy frame through one helper."""

    def __init__(self, frame: pd.DataFrame, family: str, reps: int, seed: int) -> None:
        self.frame = frame[frame["family"] == family]
        self.family, self.reps, self.seed = family, reps, seed

    def values(self, strategy: str, policy: str, metric: str) -> pd.Series:
        """Per-seed values (index: seed), NaN dropped."""
        rows = self.frame[(self.frame["strategy"] == strategy) & (self.frame["policy"] == policy)
                          & (self.frame["metric"] == metric)]
        return rows.set_index("seed")["value"].astype(float).dropna().sort_index()

    def has(self, strategy: str, policy: str = "cortex") -> bool:
        return not self.values(strategy, policy, "final_first").empty

    def mean(self, strategy: str, policy: str, metric: str) -> str:
        """'m [low, high]' over seeds."""
        return mean_interval_text(self.values(strategy, policy, metric).to_numpy(), self.reps, self.seed)

    def count(self, strategy: str, policy: str, metric: str, bar: float = LEARNED) -> str:
        """'k of n seeds' at or above ``bar``."""
        values = self.values(strategy, policy, metric)
        return f"{int((values >= bar).sum())} of {len(values)} seeds"

    def paired(self, x: str, y: str, policy: str, metric: str, y_policy: str | None = None) -> str:
        """x minus y (y's ``y_policy`` if given, else the same policy), paired by seed: the
        difference with its interval, the verdict, and on how many seeds x is lower."""
        a, b = self.values(x, policy, metric), self.values(y, y_policy or policy, metric)
        seeds = a.index.intersection(b.index)
        if seeds.empty:
            return "n/a (no common seeds)"
        diff = (a[seeds] - b[seeds]).to_numpy()
        point, low, high = interval(diff, "mean", self.reps, self.seed)
        return (f"{point:+.3f} [{low:+.3f}, {high:+.3f}] ({interval_verdict(low, high)}; "
                f"lower on {int((diff < 0).sum())} of {len(diff)} seeds)")

    def sentences(self) -> list[str]:
        out = []
        if self.has("none"):
            out.append(
                f"**Does the cortex learn both contexts?** Under fine-tuning (`none`) A is learned to {LEARNED} "
                f"on {self.count('none', 'cortex', 'learned_first')} ({self.mean('none', 'cortex', 'learned_first')})"
                f" and B on {self.count('none', 'cortex', 'learned_second')} "
                f"({self.mean('none', 'cortex', 'learned_second')}).")
            out.append(f"**Fine-tuning forgets** {self.mean('none', 'cortex', 'retention_drop_first')} of A "
                       "(A learned minus A at the end).")
            plasticity = self.plasticity()
            if plasticity:
                out.append(plasticity)
        students = [s for s in (*REPLAY_STUDENTS, "distill", "scratch_student") if self.has(s, "student")]
        if students:
            parts = [f"`{s}` {self.mean(s, 'student', 'final_first')} (B {self.mean(s, 'student', 'learned_second')})"
                     for s in students]
            out.append("**Students**, A at the end (and B learned): " + "; ".join(parts) + ".")
            if self.has("none"):
                parts = [f"`{s}` {self.paired(s, 'none', 'student', 'final_first', y_policy='cortex')}"
                         for s in students]
                out.append("**Sleep against fine-tuning** (a student's A at the end minus the `none` cortex's, "
                           "paired by seed): " + "; ".join(parts) + ".")
        if self.has("gated", "student") and self.has("replay_distill", "student"):
            out.append("**Gating** (`gated` minus `replay_distill`, the same replay with gating off, student, paired "
                       f"by seed): A at the end {self.paired('gated', 'replay_distill', 'student', 'final_first')}; "
                       f"B learned {self.paired('gated', 'replay_distill', 'student', 'learned_second')}.")
        if self.has("gated_shuffled", "student") and self.has("gated", "student"):
            out.append("**Shuffled gains** (`gated_shuffled` minus `gated`, student): A at the end "
                       f"{self.paired('gated_shuffled', 'gated', 'student', 'final_first')}.")
        if self.has("awake_control", "student") and self.has("replay_distill", "student"):
            against = self.paired("awake_control", "replay_distill", "student", "final_first")
            out.append("**The awake control** (the same student updates online in the last wake's env) keeps "
                       f"{self.mean('awake_control', 'student', 'final_first')} of A at the end; against "
                       f"`replay_distill`, paired by seed: {against}.")
        baselines = [s for s in CORTEX_BASELINES if self.has(s)]
        if baselines:
            parts = []
            for s in baselines:   # P&C keeps its skills in its knowledge base, the student
                policy = "student" if self.has(s, "student") else "cortex"
                parts.append(f"`{s}` ({policy}) A lost {self.mean(s, policy, 'retention_drop_first')}, B learned "
                             f"{self.mean(s, policy, 'learned_second')}")
            out.append("**Continual-learning baselines** (a strategy that keeps A by not learning B shows a small "
                       "loss and a low B): " + "; ".join(parts) + ".")
        ceiling = self.ceiling()
        if ceiling:
            out.append(ceiling)
        best = self.best_average()
        if best:
            out.append(f"**Best average performance** (bounded): {best}.")
        return out

    def plasticity(self, bar: float = PLASTICITY_BAR) -> str:
        """How fast the fine-tuned cortex learned B from A's weights against A from scratch, on
        the wake training curves (``tidy.steps_to_learn``): seeds whose A curve never reached 0.9
        have no reference and are left out; a B curve that never reached it is not within the bar."""
        a = self.values("none", "cortex", "steps_to_learn_first")
        if a.empty:
            return ""
        b = self.values("none", "cortex", "steps_to_learn_second")
        ratio = b.reindex(a.index) / a          # NaN where B never reached 0.9
        within = int((ratio <= bar).sum())
        missed = int(ratio.isna().sum())
        median = float(ratio.fillna(float("inf")).median())
        return (f"**Plasticity** (`none` cortex, training curves): B from A's weights reached {LEARNED} within "
                f"{bar}x the steps A took from scratch on {within} of {len(a)} seeds (median ratio {median:.2f}; "
                f"B's curve never reached {LEARNED} on {missed}); A's curve stands in for B from scratch, and "
                f"seeds whose A curve never reached {LEARNED} are left out.")

    def ceiling(self) -> str:
        """Whether any trained policy beats the reference: the highest raw score over every run's R."""
        rows = self.frame[self.frame["metric"] == "max_raw_score"].dropna(subset=["value"])
        if rows.empty:
            return ""
        top = rows.loc[rows["value"].idxmax()]
        above = int((rows["value"] > CEILING).sum())
        return (f"**Is the reference a ceiling?** The highest raw score of any policy on any context after any phase "
                f"is {top['value']:.2f} (`{top['strategy']}` {top['policy']}, seed {int(top['seed'])}); {above} of "
                f"{len(rows)} (run, policy) pairs score above {CEILING} somewhere.")

    def best_average(self) -> str:
        """The (strategy, policy) rows with the highest mean bounded average performance."""
        rows = self.frame[self.frame["metric"] == "bounded_average_performance"].dropna(subset=["value"])
        if rows.empty:
            return ""
        means = rows.groupby(["strategy", "policy"])["value"].mean().sort_values(ascending=False)
        top = [f"`{s}` {p} {self.mean(s, p, 'bounded_average_performance')}" for s, p in means.index[:3]]
        return "; then ".join(top)


def markdown(frame: pd.DataFrame, reps: int, seed: int, families: Sequence[str] | None = None) -> str:
    """The findings of every family, as a bullet list per family."""
    lines = []
    for family in families or sorted(set(frame["family"])):
        sentences = Findings(frame, family, reps, seed).sentences()
        if sentences:
            lines += [f"**{family}** (means over seeds with 95% bootstrap intervals; bounded scores):", ""]
            lines += [f"- {s}" for s in sentences] + [""]
    return "\n".join(lines).rstrip()
