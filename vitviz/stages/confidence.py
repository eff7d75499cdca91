"""How sure a prediction is: a prediction close to uniform says the model is not sure of anything.

A classifier's softmax always names a top class, even when every class gets about 1/C: a random-weight
ViT-S/16 puts 0.3 % on its top class among 1,000, where a blind guess puts 0.1 %. Such a top class is
not evidence for anything. The rule: the prediction's entropy H(p) = −Σ pᵢ log pᵢ is at least
``NEAR_UNIFORM_ENTROPY`` of the largest possible, log C (uniform). A trained model that hesitates
between two classes among 1,000 stays far below (log 2 / log 1000 = 10 %); its top class may be low,
but the rest is not flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitviz.wording import entropy_share

NEAR_UNIFORM_ENTROPY = 0.95  # H(p) / log C at or above this: the probabilities are spread almost evenly


@dataclass(frozen=True)
class Confidence:
    """The top class's probability and the prediction's entropy, next to uniform."""

    classes: int  # C
    top: float  # the largest probability
    entropy_share: float  # H(p) / log C: 0 when one class takes it all, 1 when uniform

    @property
    def uniform(self) -> float:
        return 1.0 / self.classes

    @property
    def ratio(self) -> float:
        """The top probability over a blind guess's 1/C."""
        return self.top * self.classes

    @property
    def near_uniform(self) -> bool:
        return self.entropy_share >= NEAR_UNIFORM_ENTROPY

    @property
    def entropy_bits(self) -> float:
        return self.entropy_share * float(np.log2(self.classes))

    def sentence(self) -> str | None:
        """One line saying the model is not sure of anything, when the rule says so (else None)."""
        if not self.near_uniform:
            return None
        bits, most, share = entropy_share(self.entropy_bits, float(np.log2(self.classes)))
        return (f"The model is not sure of anything: its top class gets {self.top:.2%}, {self.ratio:.1f}× the "
                f"{self.uniform:.2%} of a blind guess among {self.classes:,} classes, and its probabilities are "
                f"spread almost evenly (their entropy is {bits} of at most {most} bits, {share} of the most "
                f"possible; vitviz calls a prediction near uniform from {NEAR_UNIFORM_ENTROPY:.0%}).")


def confidence(logits: np.ndarray) -> Confidence | None:
    """The confidence of a prediction from its logits [C]; None for a model with no classifier (no logits)."""
    z = np.asarray(logits, dtype=np.float64).ravel()
    if z.size < 2:
        return None
    z = z - z.max()
    p = np.exp(z) / np.exp(z).sum()  # [C] softmax
    entropy = -float(np.sum(p[p > 0] * np.log(p[p > 0])))
    return Confidence(int(z.size), float(p.max()), entropy / float(np.log(z.size)))


def not_sure_line(logits: np.ndarray) -> str | None:
    """The page's one line for a near-uniform prediction, or None (sure enough, or no classifier)."""
    c = confidence(logits)
    return c.sentence() if c is not None else None
