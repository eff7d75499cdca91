"""The beginner article's claims, quoted verbatim, with a verdict, the true statement, and where the app shows it.

One table holds each quote next to its verdict, so a quote cannot drift away from what is said about it.
A quote is the article's own words, spelling and all (``docs/seed_article.md`` holds the text; a test checks
every quote against it): ``[sic]`` marks the article's spelling, `` … `` an omission; line breaks count as
spaces. A claim is demonstrated on a stage's page (``stage`` is a key of ``vitviz.walkthrough.STAGES``) or,
with ``stage == HOME``, on a card next to it on the home page (``where`` is then the card's title).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HOME = "home"  # the stage of a claim whose demonstration is a card on the home page
ARTICLE = Path(__file__).resolve().parents[1] / "docs" / "seed_article.md"  # first lines: its source, then a rule
SIC = "[sic]"
OMISSION = " … "

CARD_VLM = "ViT, VLM and multimodal LLM"  # the home page's cards, by title (home.py draws one per title)
CARD_CONV = "Cutting into patches is a convolution"
CARD_CLASSES = "A classifier answers with its classes"
HOME_CARDS = (CARD_VLM, CARD_CONV, CARD_CLASSES)

WRONG, HALF, RIGHT = "wrong", "half true", "right"
VERDICTS: dict[str, str] = {WRONG: "❌ Wrong", HALF: "➗ Half true", RIGHT: "✅ Right"}  # icon + word: no colour needed


@dataclass(frozen=True)
class Claim:
    quote: str  # the article's words, verbatim ([sic] marks its spelling, " … " an omission)
    verdict: str  # WRONG, HALF or RIGHT
    truth: str  # what is true, in plain words
    stage: str  # the key of the stage (vitviz.walkthrough) whose page demonstrates it, or HOME for a home card
    where: str  # the section of that page, or the home card's title

    @property
    def verdict_label(self) -> str:
        return VERDICTS[self.verdict]

    @property
    def on_home(self) -> bool:
        return self.stage == HOME


CLAIMS: tuple[Claim, ...] = (
    Claim("The LLMs which can understand text and image both are called Multimodal LLMs or Vision Transformers "
          "(ViTs) … And the model which can only understand image are called VLM.",
          WRONG,
          "The names are mixed up. A ViT reads images only: it is an image encoder, usually with a classifier head "
          "(the self-supervised DINO models here have none). A vision-language model (VLM), also called a multimodal "
          "LLM, reads images and text: in LLaVA-style VLMs a language model takes a ViT's patch vectors, passed "
          "through a small projector, as extra tokens.",
          HOME, CARD_VLM),
    Claim("algorithmns [sic] like Convolutional neutral [sic] network (CNN), Transformer or Multi- layer perceptrons "
          "(MLPs) mixer divide that image patches",
          HALF,
          "Vision Transformers and MLP-Mixers cut the image into patches that do not overlap, with one convolution "
          "whose window and step are both the patch size. A CNN makes no patches: it slides small overlapping "
          "windows over the image, layer after layer.",
          HOME, CARD_CONV),
    Claim("patches and pixels which is similar to tokens and sub tokens respectively",
          HALF,
          "A patch is a token; a pixel is not a sub-token. The model never splits a patch: its pixels enter only as "
          "numbers inside the patch's one vector.",
          "patches", "section 3, from pixels to numbers"),
    Claim("What if VLM see new image that isn't avaliable [sic] in his dataset is there any backup plain [sic] like "
          "subtokens in LLM? No",
          RIGHT,
          "There is no pixel-level fallback: every image, familiar or not, is cut into the same grid of patches, and "
          "each patch becomes one vector.",
          "patches", "section 2, the patch grid and the token sequence"),
    Claim("Remember the length and width of square patches are fixed during training of the model. It doesn't "
          "depend upon the size of image.",
          RIGHT,
          "Every model here was trained at one patch size and resizes every image to its own resolution first, so "
          "every image gets the same grid. (timm can resample the weights to another patch size, but the model then "
          "meets inputs it was not trained on.)",
          "patches", "section 4, one trained model at other patch sizes"),
    Claim("if VLM see image of a new create [sic] … then it will say \"This looks like a hybrid between a wolf and a "
          "dragon.\"",
          WRONG,
          "An image classifier can only answer with one of its fixed classes (1,000 ImageNet classes, or 10 shapes "
          "for the bundled model): it gives each a probability and cannot invent a new name. Writing such a sentence "
          "takes a model that generates text, such as a vision-language model.",
          HOME, CARD_CLASSES),
    Claim("all the vector numbers are unique because every patch contain different color with different shape and "
          "size",
          WRONG,
          "Identical patch inputs get identical vectors; only the position embedding added afterwards tells them apart "
          "(the bundled model's edge channel also sees neighbouring pixels, so there the whole input must match).",
          "vectors", "section 3, are vectors always unique?"),
    Claim("CLS token is created where all the information of the image or patches has been stored in vector form "
          "like which patch contain which shapes or color etc.",
          WRONG,
          "The CLS token is a learned vector, the same for every image, until attention mixes the image in.",
          "vectors", "section 4, the CLS token"),
    Claim("feed- forward layer helps self attention layer to have deep research according to the information stored "
          "in CLS token",
          WRONG,
          "The feed-forward layer (the MLP) is a small two-layer network applied to each token on its own, with the "
          "same weights for every token; it does not read the CLS token. Only attention moves information between "
          "tokens.",
          "block", "section 3, only attention mixes tokens"),
    Claim("The patches which has less difference of vector number are considered as highly related to each other",
          WRONG,
          "Relatedness is learned: attention compares a learned query with learned keys (query·key, then softmax), "
          "not how close the raw vectors are.",
          "attention", "section 1, related means close vectors?"),
    Claim("Positional Encoding will automatically identify the position of patch as it use mathmatical [sic] concept "
          "like sin and cosin [sic]",
          HALF,
          "Sin/cos position encodings exist (the original Transformer, MAE), but in ViT and every model here the "
          "position embeddings are learned parameters.",
          "positions", "sections 1–2, learned positions and sin/cos"),
    Claim("Remember, vector number is generated according to the position of the patch so by the help of this vector "
          "number Positional encoding automatically detect the position of patch.",
          HALF,
          "Right that each token carries its position: a learned position vector is added"
          " to each patch vector before block 1. Nothing is detected automatically: without that "
          "added vector, shuffling the patch tokens changes nothing.",
          "positions", "section 4, the shuffle experiment"),
    Claim("now the vector numbers are converted into binary number where numbers are represented in 0 and 1 form.",
          WRONG,
          "Every number is stored in binary from the start (fp32: 32 bits); memory is count × bytes per number.",
          "bits", "sections 1–5"),
    Claim("GPU is used to execute the program temperorly [sic]",
          WRONG,
          "The CPU runs the program and hands the big matrix products to the GPU, which does thousands of "
          "multiply-adds in parallel.",
          "bits", "section 6, compute"),
    Claim("high patches means high accuracy of image generation.",
          HALF,
          "Models trained with smaller patches (more tokens) were the more accurate ones in the published pairs, at "
          "quadratically more attention. These models classify images; they generate none.",
          "patches", "section 4, does a smaller patch mean more accuracy?"),
)


def article_text(path: Path = ARTICLE) -> str:
    """The article as copied into the repository, without the lines above the rule that name its source."""
    return path.read_text(encoding="utf-8").split("\n---\n\n", 1)[1]


def _spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def quote_fragments(quote: str) -> list[str]:
    """The verbatim pieces of a quote: [sic] marks removed, split at omissions, whitespace runs as one space."""
    return [_spaces(part.replace(SIC, "")) for part in quote.split(OMISSION.strip())]


def quote_occurs(quote: str, text: str) -> bool:
    """Whether every piece of ``quote`` occurs in ``text``, in order (line breaks and runs of spaces count as one)."""
    flat, start = _spaces(text), 0
    for fragment in quote_fragments(quote):
        found = flat.find(fragment, start)
        if not fragment or found < 0:
            return False
        start = found + len(fragment)
    return True
