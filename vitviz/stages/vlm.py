"""Into a language model: how a small vision-language model (SmolVLM-256M-Instruct) reads an image and answers.

The image is cut the way the model's own processor cuts it (crops plus a global view); each crop goes through a
SigLIP ViT (16-px patches), pixel shuffle folds each s×s group of neighbouring patch vectors into one vector, one
linear projection brings it to the language model's width, and the language model reads these image tokens where
the chat template put ``<image>`` slots, next to the question's words, then writes the answer token by token.

What needs no weights (the crops, the counts, the prompt's structure, which patches an image token holds) is
computed from the processor's settings alone; the answer, the attention and the checks against the connector need
the weights (``vitviz.model.smolvlm``). Random weights compute the same arithmetic but write meaningless words:
this module never calls their output an answer (``Trace.trained`` says which it is).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from vitviz.model import provenance, smolvlm
from vitviz.model.provenance import Provenance
from vitviz.model.smolvlm import Settings

DEFAULT_QUESTION = "What is in this image?"
MAX_NEW_TOKENS = 48
TOP_K = 5
MAX_QUESTION_CHARS = 300


# --- the image as the VLM cuts it -----------------------------------------------------------------------------

def image_processor(s: Settings = smolvlm.PUBLISHED):
    """transformers' own image processor for these settings (no download: the settings are the model's)."""
    from transformers import Idefics3ImageProcessor

    pre = dict(smolvlm.PREPROCESSOR, size={"longest_edge": s.longest_edge}, max_image_size={"longest_edge": s.crop})
    return Idefics3ImageProcessor(**pre)


@dataclass(frozen=True)
class Cuts:
    """How the processor cut one image: rows × cols crops of ``crop`` px, then the global view."""

    rows: int  # 0 when the image was not split (it fit one crop): only the global view
    cols: int
    crop: int  # px
    width: int  # the original image's size
    height: int
    crops: np.ndarray  # [n, crop/2, crop/2, 3] uint8: every crop, then the global view, as the encoder sees them
    #   (un-normalised from the processor's pixel values; half resolution, for drawing)

    @property
    def n_crops(self) -> int:
        return self.rows * self.cols

    @property
    def n_views(self) -> int:
        """Images the encoder reads: the crops plus the global view."""
        return len(self.crops)

    def box(self, index: int) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in the original image's pixels of crop ``index`` (raster order); the global view is
        the whole image. The processor scales the image to cols × rows crops exactly, so each crop covers 1/cols of
        the width and 1/rows of the height."""
        if index >= self.n_crops:
            return 0.0, 0.0, float(self.width), float(self.height)
        r, c = divmod(index, self.cols)
        w, h = self.width / self.cols, self.height / self.rows
        return c * w, r * h, (c + 1) * w, (r + 1) * h

    def name(self, index: int) -> str:
        if index >= self.n_crops:
            return "global view"
        r, c = divmod(index, self.cols)
        return f"crop row {r + 1}, column {c + 1}"


def to_pixels(values: np.ndarray) -> np.ndarray:
    """The processor's normalised pixels [n, 3, H, W] (mean 0.5, std 0.5) back to uint8 [n, H, W, 3]."""
    return np.clip(np.rint((values * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def cut(image: Image.Image, s: Settings = smolvlm.PUBLISHED, processor=None) -> Cuts:
    """Cut ``image`` with the model's own image processor (``processor``: the loaded one; default: built from the
    settings), its long side scaled to ``s.longest_edge``, and keep the crops for drawing."""
    processor = processor or image_processor(s)
    # the crops as the processor resized and cut them, before its rescale and normalisation (the pixels the model
    # reads are these / 255, normalised: to_pixels of those gives them back exactly); skipping those two steps
    # over 17 crops of 512² saves half the cut's CPU (130 -> 70 ms for a photo at the default 2048 px)
    # and without its padding to the largest view (a tensor of zeros and a mask as large as the crops: 60 % of the
    # rest) when every view is already square and one size, as the processor's own views are; otherwise padded
    rgb = image.convert("RGB")
    kwargs = dict(return_row_col_info=True, return_tensors="np", size={"longest_edge": s.longest_edge},
                  do_rescale=False, do_normalize=False)
    out = processor(images=[[rgb]], do_pad=False, **kwargs)
    views = out["pixel_values"][0]
    if not (isinstance(views, np.ndarray) and views.ndim == 4 and views.shape[-1] == views.shape[-2]):
        out = processor(images=[[rgb]], **kwargs)
    values = np.array(out["pixel_values"][0][:, :, ::2, ::2], np.float32)  # [n, 3, crop / 2, crop / 2], 0..255
    # (float32 or, from some processors, uint8: a float32 copy either way)
    np.clip(np.rint(values, out=values), 0, 255, out=values)  # in place: one half-size copy, not three
    return Cuts(rows=int(out["rows"][0][0]), cols=int(out["cols"][0][0]), crop=int(out["pixel_values"][0].shape[-1]),
                width=image.width, height=image.height, crops=values.astype(np.uint8).transpose(0, 2, 3, 1))


def image_token_count(rows: int, cols: int, per_crop: int) -> int:
    """Image tokens the prompt holds: ``per_crop`` for each crop and for the global view."""
    return (rows * cols + 1) * per_crop


@dataclass(frozen=True)
class Cost:
    """What one setting of the processor's long side costs for this image."""

    longest_edge: int
    rows: int
    cols: int
    image_tokens: int


def long_sides(s: Settings = smolvlm.PUBLISHED) -> list[int]:
    """The processor's long side at 1, 2, 3, 4 × the crop size (the model card's ``N*512``; 4 is the default)."""
    return [n * s.crop for n in range(1, 5)]


def costs(width: int, height: int, s: Settings = smolvlm.PUBLISHED) -> list[Cost]:
    """Image tokens for this image's shape at long sides of 1, 2, 3, 4 × the crop size (the model card's
    ``size={"longest_edge": N*512}``; N=4 is the default): the processor's own count
    (``get_number_of_image_patches``)."""
    processor = image_processor(s)
    out = []
    for edge in long_sides(s):
        _, rows, cols = processor.get_number_of_image_patches(height, width, {"size": {"longest_edge": edge}})
        out.append(Cost(edge, rows, cols, image_token_count(rows, cols, s.image_seq_len)))
    return out


# --- pixel shuffle and the projection ------------------------------------------------------------------------

def pixel_shuffle(x: torch.Tensor, s: int) -> torch.Tensor:
    """[B, side², D] patch vectors -> [B, (side/s)², s²·D]: each s×s block of neighbouring patches concatenated
    into one vector (rows of the block first, then columns), by one reshape — the arithmetic of the connector's
    ``pixel_shuffle``, written independently."""
    b, n, d = x.shape
    side = int(round(n ** 0.5))
    x = x.reshape(b, side // s, s, side // s, s, d)  # [B, token row, row in block, token col, col in block, D]
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, (side // s) ** 2, s * s * d)


def token_patches(token: int, s: Settings = smolvlm.PUBLISHED) -> list[int]:
    """The patches (raster index in the crop's patches_side × patches_side grid) image token ``token`` of a crop
    holds, in the order their vectors are concatenated."""
    tr, tc = divmod(token, s.tokens_side)
    f, side = s.scale_factor, s.patches_side
    return [(tr * f + i) * side + tc * f + j for i in range(f) for j in range(f)]


@dataclass(frozen=True)
class Opened:
    """One image token opened up: its patches, its vector before and after the projection, checked."""

    view: int  # which crop (the last: the global view)
    token: int  # 0 … tokens_per_crop − 1, raster order in the crop
    patches: list[int]
    patch_vectors: np.ndarray  # [s², encoder_width] float32: the encoder's output for those patches
    shuffled: np.ndarray  # [s²·encoder_width]: pixel shuffle's vector (the patch vectors, concatenated)
    projected: np.ndarray  # [lm_width]: after the projection (computed here: shuffled · Wᵀ)
    max_abs_diff: float  # max |our projection − the connector's output| over every token of the crop
    scale: float  # max |connector output|, to read the difference against
    attention: np.ndarray  # [layers, patches, patches] float16: the encoder's attention, mean over heads


_encoder_lock = threading.Lock()  # open_view switches the shared encoder to eager attention for one call


def open_view(model, pixel_values: torch.Tensor, view: int, s: Settings) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The encoder's output for one view (crop), pixel shuffle and projection recomputed here and checked against
    the model's connector, and the encoder's own attention (eager, mean over heads): (patch vectors [P, D],
    projected [T, W], max |difference|, max |connector|) plus the attention, all as arrays."""
    vision, connector = model.model.vision_model, model.model.connector
    first = next(vision.parameters())
    px = pixel_values[view:view + 1].to(first.device, first.dtype)  # [1, 3, crop, crop]
    with _encoder_lock, torch.no_grad():
        before = vision.config._attn_implementation
        vision.config._attn_implementation = "eager"  # the probabilities are read only in eager attention
        try:
            out = vision(pixel_values=px, output_attentions=True)
        finally:
            vision.config._attn_implementation = before
        hidden = out.last_hidden_state.float()  # [1, P, D]
        theirs = connector(out.last_hidden_state).float()  # [1, T, W]
        weight = connector.modality_projection.proj.weight.float()  # [W, s²·D]
        ours = pixel_shuffle(hidden, s.scale_factor) @ weight.T  # [1, T, W]
        attention = torch.stack([a[0].float().mean(0) for a in out.attentions])  # [L, P, P]
    return (hidden[0].cpu().numpy(), ours[0].cpu().numpy(), float((ours - theirs).abs().max()),
            float(theirs.abs().max()), attention.cpu().numpy().astype(np.float16))


def tolerance(scale: float, dtype: torch.dtype) -> float:
    """What counts as rounding when our float32 recomputation meets the connector's output in ``dtype``: a few
    units of the format's last place at the output's size (float32: 1e-4 at least, as everywhere in vitviz)."""
    return max(1e-4, 8 * torch.finfo(dtype).eps * scale)


def open_token(model, pixel_values: torch.Tensor, view: int, token: int, s: Settings) -> Opened:
    """``open_view`` for one image token of one view."""
    hidden, projected, diff, scale, attention = open_view(model, pixel_values, view, s)
    patches = token_patches(token, s)
    vectors = hidden[patches]  # [s², D]
    return Opened(view, token, patches, vectors, vectors.reshape(-1), projected[token], diff, scale, attention)


# --- the prompt --------------------------------------------------------------------------------------------------

def _turn(question: str) -> list[dict]:
    """One user turn: the image, then the question."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


@lru_cache(maxsize=1)
def _chat_template() -> "jinja2.Template":
    """The built-in copy of the published chat template, compiled once (compiling it is most of rendering it)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.BaseLoader()).from_string(smolvlm.CHAT_TEMPLATE)


def chat_prompt(question: str) -> str:
    """The published chat template (the built-in copy) rendered for one user turn and the assistant's cue: what
    the page shows before the model's files are fetched."""
    return _chat_template().render(messages=_turn(question), add_generation_prompt=True)


def expanded_prompt(question: str, rows: int, cols: int, per_crop: int) -> str:
    """The prompt with its one ``<image>`` replaced as the processor replaces it (transformers' own
    ``get_image_prompt_string`` of SmolVLM, the layout Idefics3's processor writes too; the tests check they agree): per crop a fence, its row/column token and ``per_crop`` image tokens, then the
    global view."""
    from transformers.models.smolvlm.processing_smolvlm import get_image_prompt_string

    image = get_image_prompt_string(rows, cols, per_crop, fake_token_around_image="<fake_token_around_image>",
                                    image_token="<image>", global_image_token="<global-img>")
    return chat_prompt(question).replace("<image>", image, 1)


@dataclass(frozen=True)
class Piece:
    """One run of the prompt strip: a special token, a run of image tokens, or text."""

    kind: str  # "special", "image", "text"
    text: str  # the token (special), "<image>" (image), the characters (text)
    count: int = 1  # image: how many image tokens in a row; text: its tokens (0 when the tokenizer is absent)
    view: int | None = None  # image: which view (crop index; the last is the global view)
    tokens: tuple[str, ...] = ()  # text: the tokenizer's pieces, when it is present

    @property
    def meaning(self) -> str:
        if self.kind == "special":
            if re.fullmatch(smolvlm.ROW_COL, self.text):
                r, c = re.findall(r"\d+", self.text)
                return f"the crop in row {r}, column {c} follows"
            return smolvlm.SPECIAL_TOKENS.get(self.text, "special token")
        return ""


_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in smolvlm.SPECIAL_TOKENS) + "|" + smolvlm.ROW_COL + ")")


def strip(prompt: str, tokenize: Callable[[str], list[str]] | None = None) -> list[Piece]:
    """The prompt as the language model receives it, in order: special tokens named, runs of image tokens counted
    (with the view they belong to), text as it is (and, with the tokenizer, its token pieces)."""
    pieces: list[Piece] = []
    views = 0
    for part in _SPLIT.split(prompt):
        if not part:
            continue
        if part == "<image>":
            if pieces and pieces[-1].kind == "image":
                last = pieces[-1]
                pieces[-1] = Piece("image", "<image>", last.count + 1, last.view)
            else:
                pieces.append(Piece("image", "<image>", 1, views))
                views += 1
        elif _SPLIT.fullmatch(part):
            pieces.append(Piece("special", part))
        else:
            tokens = tuple(tokenize(part)) if tokenize else ()
            pieces.append(Piece("text", part, len(tokens), tokens=tokens))
    return pieces


@dataclass(frozen=True)
class Counts:
    image_tokens: int
    special_tokens: int  # fences, row/column markers, the global-view marker, start and end of turn
    text_tokens: int | None  # the question and the role names; None without the tokenizer
    question_chars: int

    @property
    def total(self) -> int | None:
        return None if self.text_tokens is None else self.image_tokens + self.special_tokens + self.text_tokens


def counts(pieces: list[Piece], question: str, tokenized: bool) -> Counts:
    return Counts(image_tokens=sum(p.count for p in pieces if p.kind == "image"),
                  special_tokens=sum(1 for p in pieces if p.kind == "special"),
                  text_tokens=sum(p.count for p in pieces if p.kind == "text") if tokenized else None,
                  question_chars=len(question))


def clean_question(text: str) -> str:
    """The learner's question, trimmed and without the template's own markers (they would fake a structure);
    empty becomes the default."""
    text = _SPLIT.sub(" ", text or "").replace("<image>", " ")
    text = " ".join(text.split())[:MAX_QUESTION_CHARS]
    return text or DEFAULT_QUESTION


# --- the answer, token by token --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    token_id: int
    text: str  # the token as text (decoded on its own)
    top_ids: tuple[int, ...]
    top_texts: tuple[str, ...]
    top_probs: tuple[float, ...]  # softmax over the whole vocabulary


@dataclass
class Trace:
    """A greedy answer: every step's token and candidates, and where it read the image."""

    prompt_ids: list[int]
    image_positions: np.ndarray  # [n_image] indices of the image tokens in the prompt
    steps: list[Step]
    to_image: np.ndarray  # [steps, layers, n_image] float16: attention from each new token to each image token,
    #   mean over heads (the token's query row of each layer)
    image_share: np.ndarray  # [steps, layers]: the share of that row on image tokens (the rest: text, itself)
    row_sum_error: float  # max |row sum − 1| over every attention row read (softmax rows sum to 1)
    answer: str
    seconds: float
    ended: bool  # the model wrote its end-of-turn token (else MAX_NEW_TOKENS stopped it)
    trained: bool  # the published weights (False: random weights — the words mean nothing)
    dtype: str = "float32"
    views: int = 0
    per_view: int = 0

    @property
    def seconds_per_token(self) -> float:
        return self.seconds / max(1, len(self.steps))


def inputs_for(processor, image: Image.Image, question: str, longest_edge: int | None = None) -> dict:
    """The processor's model inputs for one image and question (the chat template, then the processor; the long
    side scaled to ``longest_edge``, default: the processor's own setting). The template is the fetched files' own
    when the processor has one, else the built-in copy of the published one."""
    own = getattr(processor, "chat_template", None)
    prompt = (processor.apply_chat_template(_turn(question), add_generation_prompt=True) if own
              else chat_prompt(question))
    size = {"size": {"longest_edge": longest_edge}} if longest_edge else {}
    return dict(processor(text=prompt, images=[image.convert("RGB")], return_tensors="pt", **size))


def end_ids(processor, model) -> set[int]:
    """The tokens that end an answer: the generation config's eos ids, and ``<end_of_utterance>``."""
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    eou = processor.tokenizer.convert_tokens_to_ids("<end_of_utterance>")
    if isinstance(eou, int) and eou != processor.tokenizer.unk_token_id:
        ids.add(eou)
    return ids


def greedy(model, processor, inputs: dict, max_new_tokens: int = MAX_NEW_TOKENS, trained: bool = True,
           on_token: Callable[[int], None] | None = None) -> Trace:
    """Greedy decoding written out: one forward pass over the prompt, then one per new token with the key/value
    cache; at each step the most probable token is taken (what ``model.generate(…, do_sample=False)`` does), its
    top-5 candidates kept, and each layer's attention row of the new token read on the image tokens."""
    tok = processor.tokenizer
    ids = inputs["input_ids"]  # [1, T]
    image_token = model.config.image_token_id
    positions = (ids[0] == image_token).nonzero().flatten()
    stop = end_ids(processor, model)
    steps: list[Step] = []
    to_image, share, worst = [], [], 0.0
    mask = inputs.get("attention_mask", torch.ones_like(ids))
    start = time.perf_counter()
    with torch.no_grad():
        with _encoder_lock:  # the encoder reads every view here: never while open_view has it in eager mode
            out = model(**inputs, use_cache=True, output_attentions=True)
        for step in range(max_new_tokens):
            logits = out.logits[0, -1].float()  # [V]
            probs = torch.softmax(logits, -1)
            top = torch.topk(probs, TOP_K)
            chosen = int(torch.argmax(logits))
            rows = torch.stack([a[0, :, -1].float().mean(0) for a in out.attentions])  # [L, T + step]
            worst = max(worst, float((torch.stack([a[0, :, -1].float().sum(-1) for a in out.attentions]) - 1).abs().max()))
            to_image.append(rows[:, positions].cpu().numpy().astype(np.float16))
            share.append(rows[:, positions].sum(-1).cpu().numpy())
            steps.append(Step(chosen, tok.decode([chosen]), tuple(int(i) for i in top.indices),
                              tuple(tok.decode([int(i)]) for i in top.indices),
                              tuple(float(p) for p in top.values)))
            if on_token:
                on_token(step + 1)
            if chosen in stop:
                break
            mask = torch.cat([mask, mask.new_ones((1, 1))], dim=1)
            out = model(input_ids=torch.tensor([[chosen]], device=ids.device), attention_mask=mask, cache=out.past_key_values,
                        use_cache=True, output_attentions=True)
    seconds = time.perf_counter() - start
    new = [s.token_id for s in steps]
    ended = bool(new) and new[-1] in stop
    answer = tok.decode(new, skip_special_tokens=True).strip()
    return Trace(prompt_ids=ids[0].tolist(), image_positions=positions.cpu().numpy(), steps=steps,
                 to_image=np.stack(to_image), image_share=np.stack(share), row_sum_error=worst, answer=answer,
                 seconds=seconds, ended=ended, trained=trained,
                 dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
                 views=int(inputs["pixel_values"].shape[1]), per_view=len(positions) // max(1, int(inputs["pixel_values"].shape[1])))


def answer(loaded: smolvlm.Loaded, image: Image.Image, question: str, longest_edge: int | None = None,
           on_token: Callable[[int], None] | None = None) -> Trace:
    """The fetched model's greedy answer to ``question`` about ``image`` (long side scaled to ``longest_edge``)."""
    inputs = {k: v.to(loaded.device) for k, v in inputs_for(loaded.processor, image, question, longest_edge).items()}
    inputs["pixel_values"] = inputs["pixel_values"].to(loaded.dtype)
    return greedy(loaded.model, loaded.processor, inputs, trained=True, on_token=on_token)


def view_maps(trace: Trace, step: int | None, layer: int | None) -> np.ndarray:
    """[views, side, side]: the attention of answer token ``step`` (None: mean over the answer) in ``layer``
    (None: mean over layers) on each view's image tokens, laid out as that view's token grid."""
    a = trace.to_image.astype(np.float32)  # [steps, L, n_image]
    a = a.mean(0) if step is None else a[step]
    a = a.mean(0) if layer is None else a[layer]
    side = int(round(trace.per_view ** 0.5))
    return a.reshape(trace.views, side, side)


def pasted(maps: np.ndarray, cuts: Cuts) -> np.ndarray:
    """The crops' maps [views, side, side] put back where the crops sit in the image: [rows·side, cols·side]
    (the global view's map is left out: it covers the whole image at once)."""
    if cuts.n_crops == 0:
        return maps[0]
    side = maps.shape[-1]
    grid = maps[:cuts.n_crops].reshape(cuts.rows, cuts.cols, side, side)
    return grid.transpose(0, 2, 1, 3).reshape(cuts.rows * side, cuts.cols * side)


def answer_sentence(trace: Trace) -> str:
    """The answer in a sentence for the page and the command line (never for random weights)."""
    if not trace.trained:
        raise ValueError("random weights write meaningless words: they are not the model's answer")
    n = len(trace.steps)
    end = ("it stopped by writing its end-of-turn token" if trace.ended else
           f"stopped after {MAX_NEW_TOKENS} tokens (the page's limit)")
    return (f"{n} tokens in {trace.seconds:.1f} s here ({trace.seconds_per_token:.2f} s per token, {trace.dtype}); "
            f"{end}.")


FAITHFULNESS_CAVEAT = ("Attention is where a token reads, not proof of why it was written: values, the MLPs and "
                       "every other layer shape the answer too (the Faithfulness page tests this for the ViT by "
                       "hiding patches).")


def no_weights_sentence() -> str:
    return (f"The answer needs the model's weights ({smolvlm.TITLE}, 256 million numbers), which are not on this computer: "
            f"run `{smolvlm.FETCH_COMMAND}` once while online (before class), then reload this page.")


# --- section 6: the ViT on screen, a closed set, next to the VLM's open answer ---------------------------------

def closed_set_heading(title: str, has_classifier: bool) -> str:
    """The ViT column's heading: a classifier only when the model on screen has a class head."""
    return f"**{title}, a classifier**" if has_classifier else f"**{title}, an image encoder without a classifier**"


def closed_set_caption(classes: int, p: Provenance) -> str:
    """What the ViT's top classes mean, by where its weights came from: a trained head picks among its classes; a
    random head's ranking was learned from nothing (its class names are the published checkpoint's list)."""
    pick = f"It must pick one of its {classes:,} classes, whatever the image shows"
    weights = provenance.these_weights(p)
    weights = weights[:1].upper() + weights[1:]
    if p.random:
        return (f"{pick}. {weights}, so this ranking is noise: the names are the published checkpoint's classes, "
                "and their order says nothing about the image.")
    if p.unknown:
        return f"{pick}. {weights}, so vitviz cannot say whether this ranking was learned."
    return pick + "."
