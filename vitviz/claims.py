"""The beginner article's claims, quoted verbatim, with a verdict, the true statement, and where the app shows it.

One table holds each quote next to its verdict, so a quote cannot drift away from what is said about it.
A quote is the article's own words, spelling and all (``docs/seed_article.md`` holds the text; a test checks
every quote against it): ``[sic]`` marks the article's spelling, `` … `` an omission; line breaks count as
spaces. A claim is demonstrated on a stage's page (``stage`` is a key of ``vitviz.walkthrough.STAGES``) or,
with ``stage == HOME``, on a card next to it on the home page (``where`` is then the card's title).

A claim whose verdict depends on the model on screen has a ``judge``: it reads the model's shape (a CLS token or
not, what the head reads) and, where the claim is about what the model does, a measurement on the image
(``graded`` gives every claim's verdict and truth for one model and image). Before an image is chosen, a measured
claim says only what holds whatever the measurement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vitviz.model import provenance
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.model.provenance import Provenance
from vitviz.stages import attention, closeness

HOME = "home"  # the stage of a claim whose demonstration is a card on the home page
ARTICLE = Path(__file__).resolve().parents[1] / "docs" / "seed_article.md"  # first lines: its source, then a rule
SIC = "[sic]"
OMISSION = " … "

CARD_VLM = "ViT, VLM and multimodal LLM"  # the home page's cards, by title (home.py draws one per title)
CARD_CONV = "Cutting into patches is a convolution"
CARD_CLASSES = "A classifier answers with its classes"
HOME_CARDS = (CARD_VLM, CARD_CONV, CARD_CLASSES)

WRONG, HALF, RIGHT, MEASURED = "wrong", "half true", "right", "measured"
VERDICTS: dict[str, str] = {WRONG: "❌ Wrong", HALF: "➗ Half true", RIGHT: "✅ Right",  # icon + word: no colour needed
                            MEASURED: "🔬 Measured on your image"}  # a measured claim before an image is chosen


@dataclass(frozen=True)
class ModelShape:
    """What a claim's verdict reads of the model on screen (timm's own attributes)."""

    class_token: bool  # it has a CLS token
    pool: str  # timm's global_pool: "token" reads the CLS token, "avg" the mean of the patch tokens, ...
    classifier: bool  # it has a classifier head (labels)
    cls_position: bool  # the CLS token gets a position vector of its own (timm: not ``no_embed_class``)
    patch_size: int = 16  # the patch size it is built with
    origin: Provenance = provenance.published("the published checkpoint")  # where its weights came from
    cuda: bool = True  # it runs on a CUDA GPU (the bundle's device); CLASSIC: the machine the article describes


CLASSIC = ModelShape(class_token=True, pool="token", classifier=True, cls_position=True)  # ViT as published


def model_shape(bundle: Bundle) -> ModelShape:
    """Read from the loaded model, never assumed: a user's file may be a ViT without a CLS token."""
    model = bundle.model
    has_cls = getattr(model, "cls_token", None) is not None
    return ModelShape(class_token=has_cls, pool=str(getattr(model, "global_pool", "token") or "none"),
                      classifier=len(bundle.labels) > 0,
                      cls_position=has_cls and not getattr(model, "no_embed_class", False),
                      patch_size=bundle.spec.patch_size, origin=bundle.provenance,
                      cuda=bundle.device.type == "cuda")


@dataclass(frozen=True)
class Evidence:
    """What the judges read: the model's shape, and measurements on the image (None before one is chosen)."""

    shape: ModelShape
    closeness: closeness.Closeness | None = None
    peaks: attention.QueryPeaks | None = None  # the last block's query rows: how sharply a patch picks out others


POOLS = {"avg": "the mean of the patch tokens (global average pooling)", "avgmax": "the mean and maximum of the "
         "patch tokens", "max": "the maximum of the patch tokens", "map": "an attention-pooling layer over the tokens"}


def pooled(pool: str) -> str:
    """What a head with timm's ``global_pool`` = ``pool`` (not "token") reads, in words."""
    return POOLS.get(pool, f"the tokens pooled by “{pool}”" if pool != "none" else "every token, unpooled")


@dataclass(frozen=True)
class Claim:
    quote: str  # the article's words, verbatim ([sic] marks its spelling, " … " an omission)
    verdict: str  # WRONG, HALF or RIGHT (MEASURED: judged on the image, and nothing is shown yet)
    truth: str  # what is true, in plain words
    stage: str  # the key of the stage (vitviz.walkthrough) whose page demonstrates it, or HOME for a home card
    where: str  # the section of that page, or the home card's title
    judge: Callable[[Evidence], tuple[str, str]] | None = None  # (verdict, truth) on the model on screen;
    #   verdict and truth above are then what holds before an image (or, for a model-shape claim, on CLASSIC)
    also: str | None = None  # a stage whose page shows it live too (the VLM claims: "Into a language model")

    @property
    def verdict_label(self) -> str:
        return VERDICTS[self.verdict]

    @property
    def on_home(self) -> bool:
        return self.stage == HOME


# --- judges: a verdict on the model on screen ---------------------------------------------------------------

def cls_truth(shape: ModelShape) -> tuple[str, str]:
    """The CLS claim: wrong about when and how the CLS token gets its content; right, where the head reads it, that
    at the end it carries what the classifier reads."""
    if not shape.class_token:
        return WRONG, (f"This model makes no CLS token at all: its head reads {pooled(shape.pool)} after the last "
                       "block. (In ViTs that have one, the CLS token is a learned vector, the same for every image, "
                       "until attention mixes the image in.)")
    start = ("Wrong about when and how: the CLS token is not made from the image. It is a "
             f"{provenance.parameter('vector', shape.origin)}, the same for every image as it enters block 1, and attention mixes information from the patches into it, block "
             "after block.")
    if shape.pool != "token":
        return WRONG, (start + f" And this model's head does not read it: it reads {pooled(shape.pool)} instead.")
    end = ("what the classifier reads (this model's head reads the CLS token)" if shape.classifier
           else "what this model hands out as its image features (it has no classifier)")
    summary = ("a summary learned in training" if shape.origin.trained_as_documented else
               f"a summary made by {provenance.learned(shape.origin)} weights")
    return HALF, (start + f" Right about the end: after the last block it carries {end}: {summary}, not a record of which patch holds which shape or colour.")


def cls_position_truth(shape: ModelShape) -> tuple[str, str]:
    """Position information is not stored in the CLS token: it is added to each patch's own token."""
    own = ("here there is no CLS token at all" if not shape.class_token else
           "the CLS token enters block 1 the same for every image, with a position vector of its own" if
           shape.cls_position else "the CLS token enters block 1 the same for every image, with no position vector")
    return RIGHT, (f"Right: a patch's position is in its own token: a {provenance.learned(shape.origin)} position "
                   "vector is added to each patch "
                   f"vector before block 1, and {own}. (Once attention mixes the tokens, what flows into the CLS token "
                   "can carry position information too.)")


def related_mechanism(origin: Provenance) -> str:
    """How attention relates tokens, in words that hold for the weights on screen (learned only when trained)."""
    return ("Relatedness is computed, not read off closeness (the cosine similarity of two tokens: 1 when they "
            f"point the same way): attention compares {provenance.attention_compares(origin)}, then a softmax turns "
            "the scores into weights that sum to 1; queries and keys are made from the tokens entering a block.")


def patch_size_truth(shape: ModelShape) -> tuple[str, str]:
    """Patch size is fixed by the architecture; that it was trained at it holds only for trained weights."""
    built = (f"Every model here is built with one patch size ({shape.patch_size} px for the model on screen), which "
             "the published checkpoints were trained at")
    if shape.origin.trained_as_documented:
        built += "; the model on screen was trained at it too"
    else:
        built += f"; the weights on screen were not ({provenance.here(shape.origin)})"
    later = ("the model then meets inputs it was not trained on" if shape.origin.trained_as_documented else
             "with these weights the answer then changes by noise, not by anything learned" if shape.origin.random
             else "a trained model then meets inputs it was not trained on")
    return RIGHT, (f"{built}. Each resizes every image to its own resolution first, so every image gets the same "
                   f"grid. (timm can resample the weights to another patch size, but {later}.)")


def positions_kind_truth(shape: ModelShape) -> tuple[str, str]:
    """Sin/cos encodings exist, but ViT's position embeddings are a table of parameters: learned when trained,
    here drawn at random or read from a file (the provenance says which)."""
    table = ("learned parameters" if shape.origin.trained_as_documented else
             f"parameters (learned in a trained model; here {provenance.here(shape.origin)})")
    return HALF, ("Sin/cos position encodings exist (the original Transformer, MAE), but in ViT and every model here "
                  f"the position embeddings are {table}.")


def position_added_truth(shape: ModelShape) -> tuple[str, str]:
    """Each token carries its position because a position vector is added to it, not because anything detects it."""
    vector = ("a learned position vector" if shape.origin.trained_as_documented else
              f"a position vector (learned in a trained model; here {provenance.here(shape.origin)})")
    return HALF, (f"Right that each token carries its position: {vector} is added to each patch vector before "
                  "block 1. Nothing is detected automatically: without that added vector, shuffling the patch tokens "
                  "changes nothing.")


R_WORDS = ("r is the correlation between closeness and attention's scores (1: they rise together exactly, 0: no "
           "relation); r² is the share of the scores' variation that closeness explains.")


def related_truth(e: Evidence) -> tuple[str, str]:
    """Graded from the measurement: attention that follows closeness in every block -> right; in some block at
    least partly -> half true; in none (not, the other way, or rows of mixed sign) -> wrong
    (``closeness.Closeness.grade``)."""
    if e.closeness is None:
        return MEASURED, (related_mechanism(e.shape.origin) + " How much of it plain closeness explains is measured on your image: "
                          "choose one.")
    verdict = {closeness.FOLLOWS: RIGHT, closeness.PARTLY: HALF}.get(e.closeness.grade, WRONG)
    return verdict, related_mechanism(e.shape.origin) + " " + R_WORDS + " " + closeness.closeness_sentence(e.closeness)


def gpu_truth(cuda: bool) -> str:
    """Who runs the program and who multiplies, on the machine the model runs on: with a CUDA GPU the CPU hands it
    the matrix products; without one (the sidebar's "Running on CPU") the CPU multiplies too."""
    if cuda:
        return ("The CPU runs the program and hands the big matrix products to the GPU, which does thousands of "
                "multiply-adds in parallel.")
    return ("The CPU runs the program: on a machine with a GPU, the CPU hands the big matrix products to it, which "
            "does thousands of multiply-adds in parallel; on this server there is none, so the CPU multiplies too.")


def another_part_mechanism(origin: Provenance) -> str:
    """How self-attention compares patches, in words that hold for the weights on screen (learned only when
    trained), and what the literature found trained heads to do."""
    if origin.trained_as_documented:
        compared = "Each token's learned query is compared with every token's learned key"
    else:
        compared = (f"Each token's query is compared with every token's key, both made by the block's "
                    f"{provenance.learned(origin)} query/key projections ({provenance.here(origin)})")
    return ("Right: self-attention is where patches are compared. " + compared + ", and each token takes in the "
            "values of the tokens it scores high, so information from other parts of an object can reach a patch. "
            "Which patches a head groups is learned, not guaranteed: in self-supervised DINO ViTs, the last block's "
            "CLS attention heads were found to outline objects and their parts (Caron et al. 2021).")


def another_part_truth(e: Evidence) -> tuple[str, str]:
    """The mechanism (literature) is right whatever the weights; what this model's attention picks out is measured:
    the last block's query rows, their largest weight against uniform (below ``closeness.NEAR_FLAT`` × uniform for
    every row: no patch is picked out, and the claim is then right about a trained ViT, not shown by this model)."""
    mechanism = another_part_mechanism(e.shape.origin)
    if e.peaks is None:
        return RIGHT, mechanism + " Where a patch looks on this model is its query map: choose an image."
    p = e.peaks
    measured = (f" On this model and image, in block {p.layer + 1} (the last), a patch's query row in one head gives "
                f"its largest weight a median {p.median:.1f}× uniform (1/{p.tokens}), at most {p.largest:.1f}×")
    if p.largest < closeness.NEAR_FLAT:
        measured += (": every row is nearly flat, so this model's attention picks out no patch as part of another. "
                     "The claim is right about a trained ViT's attention (Caron et al. 2021), not shown by this "
                     "model.")
    elif p.median < closeness.NEAR_FLAT:
        measured += ": most rows are nearly flat; a few pick out patches (the query map shows which)."
    else:
        measured += ": rows pick out patches; the query map shows which."
    return RIGHT, mechanism + measured


ARTICLE_BITS = ("01010111 01101000 01100001 01110100", "01101001 01110011",
                "01000010 01101111 01110100 01110000 01110010 01100101 01110011 01110011", "00111111")  # as written


def ascii_bits(text: str) -> str:
    """Each character's 8-bit ASCII code, in groups: "A" -> "01000001"."""
    return " ".join(format(ord(c), "08b") for c in text)


def decode_bits(groups: str) -> str:
    """The characters 8-bit groups of 0s and 1s stand for (other characters are skipped)."""
    return "".join(chr(int(g, 2)) for g in re.findall(r"[01]{8}", groups))


CLAIMS: tuple[Claim, ...] = (
    Claim("The LLMs which can understand text and image both are called Multimodal LLMs or Vision Transformers "
          "(ViTs) … And the model which can only understand image are called VLM.",
          WRONG,
          "The names are mixed up. A ViT reads images only: it is an image encoder, usually with a classifier head "
          "(the self-supervised DINO models here have none). A vision-language model (VLM), also called a multimodal "
          "LLM, reads images and text: in LLaVA-style VLMs a language model takes a ViT's patch vectors, passed "
          "through a small projector, as extra tokens.",
          HOME, CARD_VLM, also="vlm"),
    Claim("algorithmns [sic] like Convolutional neutral [sic] network (CNN), Transformer or Multi- layer perceptrons "
          "(MLPs) mixer divide that image patches",
          HALF,
          "Vision Transformers and MLP-Mixers cut the image into patches that do not overlap, with one convolution "
          "whose window and step are both the patch size. Classic CNNs (VGG, ResNet) make no patches: they slide "
          "small overlapping windows over the image, layer after layer. Some recent CNNs do start with a patch step: "
          "ConvNeXt's first layer is a 4×4 convolution with stride 4, which cuts the image into 4-px patches (Liu et "
          "al. 2022, “A ConvNet for the 2020s”), and then slides overlapping 7×7 windows again.",
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
          patch_size_truth(CLASSIC)[1],
          "patches", "section 4, one model at other patch sizes", judge=lambda e: patch_size_truth(e.shape)),
    Claim("if VLM see image of a new create [sic] … then it will say \"This looks like a hybrid between a wolf and a "
          "dragon.\"",
          WRONG,
          "An image classifier can only answer with one of its fixed classes (1,000 ImageNet classes, or 10 shapes "
          "for the bundled model): it gives each a probability and cannot invent a new name. Writing such a sentence "
          "takes a model that generates text, such as a vision-language model.",
          HOME, CARD_CLASSES, also="vlm"),
    Claim("all the vector numbers are unique because every patch contain different color with different shape and "
          "size. … location of the object using mathematical concept like sin and cosine so the vector number are "
          "always unique in a image.",
          HALF,
          "Right that the tokens end up distinct, but because a position vector is added to each patch vector, not "
          "because patches always differ: identical patches give identical patch vectors (on the bundled model the "
          "one-pixel ring around the patch must match too, since its edge channel reads it), and only the position "
          "vector tells them apart (in these ViTs a table of parameters, not sin and cosine).",
          "vectors", "section 3, are vectors always unique?"),
    Claim("CLS token is created where all the information of the image or patches has been stored in vector form "
          "like which patch contain which shapes or color etc.",
          cls_truth(CLASSIC)[0], cls_truth(CLASSIC)[1],
          "vectors", "section 4, the CLS token", judge=lambda e: cls_truth(e.shape)),
    Claim("feed- forward layer helps self attention layer to have deep research according to the information stored "
          "in CLS token",
          WRONG,
          "The feed-forward layer (the MLP) is a small two-layer network applied to each token on its own, with the "
          "same weights for every token; it does not read the CLS token. Only attention moves information between "
          "tokens.",
          "block", "section 3, only attention mixes tokens"),
    Claim("The patches which has less difference of vector number are considered as highly related to each other",
          *related_truth(Evidence(CLASSIC)),
          "attention", "section 1, related means close vectors?", judge=related_truth),
    Claim("Positional Encoding will automatically identify the position of patch as it use mathmatical [sic] concept "
          "like sin and cosin [sic]",
          HALF,
          positions_kind_truth(CLASSIC)[1],
          "positions", "sections 1–2, learned positions and sin/cos", judge=lambda e: positions_kind_truth(e.shape)),
    Claim("Remember, vector number is generated according to the position of the patch so by the help of this vector "
          "number Positional encoding automatically detect the position of patch.",
          *position_added_truth(CLASSIC),
          "positions", "section 4, the shuffle experiment", judge=lambda e: position_added_truth(e.shape)),
    Claim("now the vector numbers are converted into binary number where numbers are represented in 0 and 1 form.",
          WRONG,
          "Every number is stored in binary from the start (fp32: 32 bits); memory is count × bytes per number.",
          "bits", "sections 1–5"),
    Claim("GPU is used to execute the program temperorly [sic]",
          WRONG,
          gpu_truth(CLASSIC.cuda),
          "bits", "section 6, compute", judge=lambda e: (WRONG, gpu_truth(e.shape.cuda))),
    Claim("high patches means high accuracy of image generation.",
          HALF,
          "Models trained with smaller patches (more tokens) were the more accurate ones in the published pairs, at "
          "quadratically more attention. On a fixed compute budget the opposite can happen: the bundled model's card "
          "(vitviz/assets/MODEL_CARD.md) reports its 14-px version at 61.7 % held-out accuracy and an 8-px one at "
          "47 %, each about 11 minutes into training side by side on the same CPU. These models classify images; they generate none.",
          "patches", "section 4, does a smaller patch mean more accuracy?"),
    Claim("Now, VLM identify the color and shape that patches contain.",
          HALF,
          "Right that a patch's vector is made from its colours and the pattern of its pixels: one matrix "
          "multiplication of the pixel values (plus a bias; the bundled shapes model also reads a fixed colour-edge "
          "channel computed from them and the 1-pixel ring around the patch). Nothing is identified at that step: the vector is "
          "numbers, not the name of a colour or a shape; what the shapes are is worked out, if at all, by the "
          "blocks after it.",
          "vectors", "section 1, show the math for one patch"),
    Claim("in VLM the concept of pixels are not used to understand the strcture [sic] or color of the complex image.",
          HALF,
          "Right that pixels are no fallback like sub-tokens: the model never reads a pixel as a token of its own, "
          "and every image gets the same grid of patches. But the pixels are all it reads: each patch vector is "
          "computed from its pixels' values (on the bundled shapes model, also from a fixed colour-edge channel "
          "computed from them), so structure and colour reach the model only through them.",
          "patches", "section 3, from pixels to numbers"),
    Claim("it will try to match the physical properties like Fur, eyes, tail, or legs to similar patterns it has "
          "seen before (like a dog, dragon, or wolf)",
          HALF,
          "Right that a trained classifier answers by how well the image fits patterns learned from its training "
          "images; it keeps no images to compare with (Bits, section 7). It looks for no named parts like fur or "
          "eyes: its blocks turn the patches into features and its head gives every class it knows a score, and "
          "the highest is the answer, even for a creature it has no class for. Which patches the answer really "
          "depends on is measured by hiding them.",
          "faithfulness", "section 1, occlusion"),
    Claim("1 word= 1 token= 1 vector so same as 1 patches= 1 vector.",
          HALF,
          "Right for the image: one patch is one token is one vector (plus any extra token such as the CLS token). "
          "Not for text: a word is often several tokens, because subword tokenizers such as byte-pair encoding "
          "(Sennrich, Haddow & Birch 2016; GPT-2 uses it on bytes) split rare words into pieces, the sub-tokens "
          "the article itself mentions.",
          "patches", "section 2, the patch grid and the token sequence"),
    Claim("self attention layer helps VLM to compare the patches and identify which patch is the another part of "
          "patch",
          *another_part_truth(Evidence(CLASSIC)),
          "attention", "section 1, where a patch looks (its query row)", judge=another_part_truth),
    Claim("if u are thinking this information is also stored in CLS token then u are thinking wrong.",
          *cls_position_truth(CLASSIC),
          "positions", "section 1, the position embeddings", judge=lambda e: cls_position_truth(e.shape)),
    Claim("now your answer will be probabily [sic]: because we train ai model on various data set so it take much "
          "memory.",
          WRONG,
          "The article offers this as the reader's likely answer and then agrees with it (“we need to train data set "
          "so we need more memory i agree with that”). Training memory does not grow with the data set: the images are read in batches, used and dropped. What "
          "sits in memory at once is the weights, their gradients, the optimiser's state (Adam: two more numbers "
          "per weight) and one batch's activations; a bigger data set takes longer to train, not more memory.",
          "bits", "sections 4–5, training memory and activations"),
    Claim("the ASCII code of A is 65 now convert 065 into binary i.e. 01000001 so in binary A means 01000001",
          RIGHT,
          f"Right: A is 65 = 64 + 1, in 8 bits {ascii_bits('A')}, and the article's groups of bits are the codes of "
          f"{', '.join('“' + decode_bits(g) + '”' for g in ARTICLE_BITS)}, one 8-bit code per character (UTF-8 "
          "stores these characters the same way). That is how text is stored; a model's own numbers are binary "
          "floats from the start (fp32: 32 bits each), not ASCII.",
          "bits", "section 3, text and pixels are bytes too"),
)


@dataclass(frozen=True)
class Graded:
    """One claim's verdict and truth on the model (and image) on screen."""

    claim: Claim
    verdict: str
    truth: str

    @property
    def verdict_label(self) -> str:
        return VERDICTS[self.verdict]


def evidence(bundle: Bundle, analysis: Analysis | None,
             by_block: closeness.Closeness | None = None) -> Evidence:
    """The model's shape, and the measurements on the analysed image (none before an image). ``by_block``:
    ``closeness.closeness_by_block(analysis)`` where the caller holds it already (the pages share one per image)."""
    measured = analysis is not None and analysis.attentions.size > 0
    if not measured:
        return Evidence(model_shape(bundle))
    return Evidence(model_shape(bundle), by_block if by_block is not None else closeness.closeness_by_block(analysis),
                    attention.query_peaks(analysis, analysis.depth - 1))


def graded(bundle: Bundle, analysis: Analysis | None,
           by_block: closeness.Closeness | None = None) -> tuple[Graded, ...]:
    """Every claim, in table order, judged on ``bundle`` and ``analysis`` where its verdict depends on them
    (``by_block``: as for ``evidence``)."""
    e = evidence(bundle, analysis, by_block)
    return tuple(Graded(c, *c.judge(e)) if c.judge else Graded(c, c.verdict, c.truth) for c in CLAIMS)


def article_text(path: Path = ARTICLE) -> str:
    """The article as copied into the repository, without the lines above the rule that name its source."""
    return path.read_text(encoding="utf-8").split("\n---\n\n", 1)[1]


def _spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def quote_fragments(quote: str) -> list[str]:
    """The verbatim pieces of a quote: [sic] marks removed (with the space before them, so that "word [sic]:"
    reads "word:"), split at omissions, whitespace runs as one space."""
    return [_spaces(part.replace(" " + SIC, "").replace(SIC, "")) for part in quote.split(OMISSION.strip())]


def quote_occurs(quote: str, text: str) -> bool:
    """Whether every piece of ``quote`` occurs in ``text``, in order (line breaks and runs of spaces count as one)."""
    flat, start = _spaces(text), 0
    for fragment in quote_fragments(quote):
        found = flat.find(fragment, start)
        if not fragment or found < 0:
            return False
        start = found + len(fragment)
    return True
