"""The walk-through, as data: the one place that says what each stage is — its page, title, icon, the
learner's question and short answer that open it, and its one-line summary. Claims, the home page,
the tour links, the handout and the tests refer to stages by ``key``; the order here is the tour's.

Adding a page: one file in ``app_pages/`` and one ``Stage`` below (plus its core module and tests).
"""

from __future__ import annotations

from dataclasses import dataclass

from vitviz.model import provenance
from vitviz.model.provenance import Provenance


@dataclass(frozen=True)
class Stage:
    key: str  # also the page's URL path (/patches)
    title: str
    icon: str
    headline: str  # the page's H1
    summary: str  # one line for the home page's pipeline
    question: str  # the learner's question that opens the page
    answer: str  # a short true answer
    depth: str  # "in depth": what the article gets wrong, and the caveats

    def answer_for(self, patch_size: int, origin: Provenance) -> str:
        """The short answer with the model on screen's own facts filled in: its patch size (``{patch}``) and what
        its parameters are (``{projection}``, ``{cls}``, ``{pos_params}``, ``{pos_measured}``: learned only when
        the weights were trained)."""
        return _fill(self.answer, origin).replace("{patch}", f"{patch_size}×{patch_size} px")

    def depth_for(self, origin: Provenance) -> str:
        """The "in depth" text with what the parameters on screen are filled in (``{positions}``), and what
        training the weights had (``{lens}``: the logit lens; ``{unseen}``: a sequence with patches removed)."""
        return _fill(self.depth, origin)

    @property
    def page(self) -> str:
        """The page file, relative to the app root (``st.Page`` / ``st.page_link`` take it)."""
        return f"app_pages/{self.key}.py"


def _fill(text: str, origin: Provenance) -> str:
    """A stage text's placeholders for what the weights on screen are (``vitviz.model.provenance``'s words)."""
    return (text.replace("{projection}", provenance.projection(origin))
            .replace("{cls}", "a " + provenance.parameter("vector", origin))
            .replace("{positions}", "learned in these models" if origin.trained_as_documented else
                     f"in these models learned in training; here {provenance.here(origin)}")
            .replace("{pos_params}", "learned parameters" if origin.trained_as_documented else
                     f"parameters (learned in a trained model; here {provenance.here(origin)})")
            .replace("{pos_measured}", POSITIONS_MEASURED if origin.trained_as_documented else
                     "what the position table on screen encodes (rows, columns, distance from the border, or "
                     f"nothing) is measured below; {provenance.these_weights(origin)}, so what it encodes was not "
                     "learned from images" if origin.random else
                     "what the position table on screen encodes (rows, columns, distance from the border, or "
                     f"nothing) is measured below; {provenance.these_weights(origin)}")
            .replace("{lens}", LENS_TRAINED if origin.trained_as_documented else
                     f"{provenance.these_weights(origin)}, so no reading, early or late, is something the model "
                     "learned, and the last block's reading is no trained readout either." if origin.random else
                     f"{provenance.these_weights(origin)}, so whether any reading, early or late, is a trained "
                     "readout is unknown too.")
            .replace("{unseen}", UNSEEN_TRAINED if origin.trained_as_documented else
                     provenance.untrained_inputs(origin) + "; the numbers are not comparable with the papers' either"))


POSITIONS_MEASURED = ("what the model you picked learned (rows, columns, distance from the border, or nothing) is "
                      "measured below")  # the trained wording of the Positions page's answer
LENS_TRAINED = "they were never trained to be read that way, so early readings are a rough guide."
UNSEEN_TRAINED = ("a sequence with gaps (patches missing while the others keep their places) is also an input the "
                  "model never saw in training, so its numbers are not comparable with the papers'")


HOME_PAGE = "home.py"  # image, model, prediction, the pipeline at a glance, the article's claims

STAGES: tuple[Stage, ...] = (
    Stage(
        "patches", "Patches", "🧩", "Patches: cutting the image into squares",
        "The image is cut into fixed-size squares.",
        "Is a pixel like a sub-token?",
        "Not quite. The token of a Vision Transformer is a whole square **patch** of pixels ({patch} for the "
        "model on screen), not a pixel: the model never looks at single pixels on their own. Patches are the "
        "image's words; there is no smaller unit the model falls back on.",
        "A text model splits a rare word into sub-tokens it knows. A ViT has no such fallback: every image, "
        "familiar or not, is cut into the same grid of patches, and each patch is turned into a vector by one "
        "linear projection; whatever the model makes of something unseen, it makes from these patch vectors in "
        "its later blocks. The ViT paper (Dosovitskiy et al., ICLR 2021, Section 4.5) found, on its trained "
        "models, projection filters that resemble basis functions for the fine structure within a patch, and "
        "heads that combine information from across the whole image already in the lowest blocks, more of them "
        "deeper in the network."),
    Stage(
        "vectors", "Vectors", "➡️", "Vectors: from patch to token",
        "Each patch becomes a vector; a CLS token joins them.",
        "How does a patch become a vector, and is every vector unique?",
        "Each patch's pixels are multiplied by {projection}, plus a bias: that is the whole “linear "
        "projection”. Two patches with the same input get the **same** vector (for the bundled model the input also "
        "holds a colour-edge channel computed across patch borders); only after the position embeddings are added "
        "do they differ. The CLS token is {cls}, identical for every image, until attention "
        "mixes the image into it.",
        "The article says vectors are always unique and encode position with sin and cos. Both are checked live "
        "below: identical patches give identical vectors, and the position information is a separate, added "
        "vector ({positions}; sin/cos in some others, see Positions)."),
    Stage(
        "block", "Inside a block", "🔧", "Inside a block: attention and the MLP, on real numbers",
        "Each block: attention mixes the tokens, then an MLP works on each token alone.",
        "What happens inside one transformer block?",
        "Two steps, each **added** to the token rather than replacing it: **attention**, where every token takes a "
        "weighted average of all tokens' values (the only place tokens meet), then an **MLP**, two matrices with a "
        "GELU (a smooth cut-off of negative numbers) between them that work on each token on its own. A "
        "LayerNorm (it rescales each token's numbers to mean 0 and spread 1) comes before each. Below, one token goes "
        "through every step with the model's own numbers, recomputed and checked against the model.",
        "The article says the “feed- forward layer helps self attention layer to have deep research according to the "
        "information stored in CLS token”. The feed-forward layer (the MLP) never reads the CLS token while it works "
        "on another token: section 3 replaces other tokens by noise and measures what moves. The article's “less "
        "difference of vector number” as relatedness is section 4. The logit lens (nostalgebraist 2020, for GPT-2) "
        "reads the tokens between blocks with the final norm and classifier; {lens}"),
    Stage(
        "attention", "Attention", "👀", "Attention: every token looks at every other",
        "Every token looks at every other token.",
        "How does the model relate patches to each other?",
        "In every block, each token computes a softmax-weighted average of all tokens' values: the weights are "
        "the **attention** probabilities shown here, one map per head. The CLS token reads the image only this "
        "way, so its attention shows where it takes information from; whether that is the evidence for the answer "
        "needs the checks below.",
        "Attention weights are not a full explanation: values and MLPs matter too. Rollout and gradient rollout "
        "combine the layers; mean attention distance measures how far each head looks."),
    Stage(
        "faithfulness", "Faithfulness", "🔬", "Faithfulness: does the map explain the prediction?",
        "Hide patches and watch the prediction: which map points at the evidence?",
        "Do the attention maps show why the model decided?",
        "Not by themselves. A map explains a prediction only if the patches it marks are the ones the answer depends "
        "on, and that can be tested: hide patches and measure the prediction. **Occlusion** hides one patch (or a "
        "small group) at a time; **deletion and insertion curves** remove or reveal patches in the order each map "
        "gives, next to random orders. Everything below is measured on your image and model.",
        "Whether attention explains a prediction is an open question. “Attention is not Explanation” (Jain & Wallace, "
        "NAACL 2019) found, for recurrent NLP models (text classification, question answering, inference), that "
        "attention weights often disagree with gradient and leave-one-out importance, and that very different "
        "attention can give the same prediction; Wiegreffe & Pinter (2019) dispute how far this goes. Chefer, Gur & "
        "Wolf (CVPR 2021) argued that raw attention and rollout give nearly the same map whatever class is asked "
        "about, proposed class-specific relevance (LRP, layer-wise relevance propagation: the prediction's score "
        "passed back layer by layer onto the inputs, combined with attention gradients) and tested ViT maps by "
        "perturbation; their follow-up (ICCV 2021) simplified it to gradient-weighted attention, which vitviz draws as "
        "“gradient rollout”. The most-relevant-first region perturbation test is from Samek et al. (2017), who "
        "replaced regions with noise; the deletion and insertion metrics are from RISE (Petsiuk et al. 2018), which "
        "blacks out pixels for deletion and starts insertion from a blurred copy. Those are findings on their models; "
        "this page measures the model you chose. vitviz hides a patch by removing its token (the others keep their "
        "positions), so nothing new is painted in; {unseen}."),
    Stage(
        "vlm", "Into a language model", "💬", "Into a language model: how an image-based LLM reads your image",
        "A small vision-language model turns the image into tokens and answers in words.",
        "How does an image-based LLM read my image and answer in words?",
        "A vision-language model (VLM) puts a ViT in front of a language model. Here it is SmolVLM-256M-Instruct: its "
        "ViT (SigLIP: a ViT trained to match images with their captions; 16-px patches) reads the image in **512-px "
        "crops plus a shrunken global view**; **pixel shuffle** folds each 4×4 group of neighbouring patch vectors "
        "into one, so a crop's 1,024 patches become **64 image tokens**; one matrix multiplication makes each as wide "
        "as the language model's own tokens (SmolLM2-135M, 576 numbers). The language model reads them where the chat "
        "template (the fixed layout of a conversation in text) put `<image>` slots, next to your question's words, and "
        "writes the answer one token at a time.",
        "The numbers are the model's own (its config.json, processor settings and chat template; model card: "
        "huggingface.co/HuggingFaceTB/SmolVLM-256M-Instruct). The design is described in the SmolVLM paper (Marafioti "
        "et al. 2025, arXiv:2504.05299), which reports that its smaller models did better with more aggressive pixel "
        "shuffle (fewer, wider image tokens: here 4,096 pixels per token); that is a finding on their models. "
        "LLaVA-1.5 (Liu et al. 2023) hands its language model 576 image tokens of a single 336-px view instead. The "
        "language model's attention from each new token of the answer to the image tokens is drawn back onto the crops "
        "below; attention is where a token reads, not proof of why it was written (see Faithfulness)."),
    Stage(
        "positions", "Positions", "📍", "Positions: where is each patch?",
        "Position embeddings say where each patch sits.",
        "How does the model know where a patch is?",
        "A position embedding, one vector per grid position, is **added** to each patch vector before the first "
        "block. In ViT and every model here these vectors are {pos_params}, not computed with sin and cos; "
        "the ViT paper (Dosovitskiy et al., 2021) found that its trained ViTs learned rows and columns on their own "
        "(Figure 7); {pos_measured}.",
        "Sin/cos position encodings exist (the original Transformer, MAE) and are compared side by side. Without "
        "positions a transformer cannot tell order at all: shuffle the patch tokens and the output does not change."),
    Stage(
        "odd_tokens", "Odd tokens", "✴️", "Odd tokens: high-norm tokens, registers and a blank image",
        "A few tokens can be odd: far longer than the rest, or a pattern that is there without any image.",
        "Are all patch tokens alike, or do some behave oddly?",
        "In large trained ViTs some do. Darcet et al. (Vision Transformers Need Registers, ICLR 2024) found a few "
        "background patch tokens whose **norm** (a vector's length) is far above the rest: they draw much of the CLS "
        "token's attention and hold little of their own patch; extra learned **register** tokens give that role a "
        "place of its own. Yang et al. (Denoising Vision Transformers, ECCV 2024) found a fixed pattern from the "
        "position embeddings in the feature maps of the ViTs they studied, even on an all-zero image. Whether either "
        "holds on the model on screen is measured below, on your image, by rules stated with their numbers.",
        "Darcet et al. saw the high-norm tokens in large models trained long (DINOv2, OpenCLIP, DeiT-III): from the "
        "middle blocks on (around block 15 of their 40-block ViT-g), after about a third of the training, on "
        "background patches that repeat their neighbours, and in ViT-L and larger, not in ViT-S or ViT-B. Their tests "
        "are the ones here: norm histograms, the share of the CLS token's attention, and linear read-outs (probes) of "
        "a token's position and pixels, which they fitted on many images (one image gives fewer tokens, so the "
        "read-outs here are rougher). Yang et al. traced the grid-like artifacts of dense ViT features to the position "
        "embeddings and removed them with a denoiser; here the blank image's features are compared with your image's, "
        "position by position."),
    Stage(
        "bits", "Bits & memory", "💾", "Bits and memory",
        "Every number is stored in binary, all along.",
        "Why does AI need so much memory?",
        "Because it stores many numbers, not because they are “converted into binary” at the end: every weight "
        "and activation is a binary floating-point number (fp32: 4 bytes) from the start. Memory is count × "
        "bytes per number — weights, activations, attention matrices, and for training gradients and optimiser "
        "state.",
        "A GPU does not “execute the program temperorly [sic]”: it does many multiply-adds in parallel. This page counts the "
        "numbers and the multiply-adds for the loaded model, and measures them."),
)

BY_KEY: dict[str, Stage] = {s.key: s for s in STAGES}


def neighbours(key: str) -> tuple[Stage | None, Stage | None]:
    """The stages before and after ``key`` in tour order (None at either end)."""
    i = [s.key for s in STAGES].index(key)
    return (STAGES[i - 1] if i > 0 else None), (STAGES[i + 1] if i + 1 < len(STAGES) else None)
