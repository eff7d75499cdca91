"""The beginner article's claims that are wrong or half-true, the true statement, and the stage whose page
shows it live (by key: ``vitviz.walkthrough`` is the one place that says what a stage is)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    said: str
    truth: str
    stage: str  # the key of the stage (vitviz.walkthrough) whose page demonstrates it
    where: str  # the section of the page that demonstrates it


CLAIMS: tuple[Claim, ...] = (
    Claim("Pixels are like sub-tokens: the model falls back on them for things it does not know.",
          "The token is a whole patch; the model has no pixel-level fallback, every image gets the same grid.",
          "patches", "section 2, the patch grid and token sequence"),
    Claim("The patch size is fixed during training and does not depend on the image.",
          "It is trained at one size, but the same weights can be resampled to other patch sizes (FlexiViT).",
          "patches", "section 4, patch size on a real model"),
    Claim("More patches means more accuracy.",
          "More patches means more tokens and quadratically more attention; accuracy depends on the model.",
          "patches", "section 4, and “Will it fit?” on Bits & memory"),
    Claim("Every patch vector is unique.",
          "Identical patches get identical vectors; only the added position embedding tells them apart.",
          "vectors", "section 3, “Are vectors always unique?”"),
    Claim("The CLS token is created from your image and stores which patch contains what.",
          "The CLS token is a learned vector, the same for every image, until attention mixes the image in.",
          "vectors", "section 4, the CLS token"),
    Claim("Patches with a small difference of vector number are considered related.",
          "Relatedness is learned attention (query·key softmax), not closeness of raw vectors.",
          "attention", "sections 1–2"),
    Claim("Positions are encoded with sin and cos.",
          "In ViT (and every model here) position embeddings are learned; sin/cos is one alternative.",
          "positions", "sections 1–2"),
    Claim("Position information is not in the patch vectors; positional encoding detects it automatically.",
          "A position vector is added to each patch vector; without it, shuffling the patches changes nothing.",
          "positions", "section 4, the shuffle experiment"),
    Claim("Vectors are converted into binary at the end, and that is why AI needs memory.",
          "Every number is stored in binary from the start; memory is count × bytes per number.",
          "bits", "sections 1–4"),
    Claim("A GPU executes the program temporarily.",
          "A GPU runs the same multiply-adds as the CPU, thousands in parallel.",
          "bits", "section 5, compute"),
)
