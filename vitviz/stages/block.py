"""Stage — inside a block: one transformer block recomputed step by step, on real numbers.

One block is recomputed in float32 from its input with the model's own timm modules
(``norm1``, ``attn.qkv``, ``attn.q_norm``/``k_norm``, ``attn.scale``, ``attn.proj``, ``ls1``, ``norm2``,
``mlp.fc1``/``act``/``fc2``, ``ls2``; ``model.norm`` and ``model.forward_head`` for the logit lens), and
checked against what the model itself computed:

- ``residual_stream``: block 1's input (``Analysis.tokens_in``, float32) through the model's own blocks,
  every block's output in float32 (as the analysis kept them when the blocks compute in float32; run again in
  float32 copies when they do not), and the final norm and head applied at every depth (the logit lens,
  nostalgebraist 2020, for GPT-2);
- ``trace``: one block opened up — LayerNorm, q/k/v, scores, softmax, Σ aⱼvⱼ, the output projection,
  the residual adds, the MLP — for every token at once, with its checks (``BlockCheck``);
- ``query_step``: one query token and one head, with a softmax temperature (a what-if);
- ``mixing_what_ifs``: only attention mixes tokens, the MLP works on each token alone;
- ``logit_lens`` and ``update_sizes``: where the answer forms, and how much each block changes a token.

The recompute starts from the captured block input, not from pixels, so it is not counted as a forward
pass of the model (``Bundle.forward_calls``): the patch embedding never runs again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from timm.layers import Attention, Mlp
from timm.models.vision_transformer import Block

from vitviz.model.analysis import Analysis
from vitviz.model.forward import as_input
from vitviz.model.loading import Bundle

# The article's sentences this page answers, verbatim (tests check them against the article).
ARTICLE_FEED_FORWARD = ("feed- forward layer helps self attention layer to have deep research according to the "
                        "information stored in CLS token")
ARTICLE_RELATED = ("The patches which has less difference of vector number are considered as highly related to "
                   "each other")
NOISE_SEED = 0  # the what-ifs' noise is the same on every run


@dataclass(frozen=True)
class Step:
    """One step of the block as the diagram draws it."""

    key: str
    title: str  # the diagram's box
    explain: str  # one line in plain words


STEPS: tuple[Step, ...] = (
    Step("norm1", "LayerNorm", "each token is rescaled to mean 0 and spread 1, then by a learned scale and shift"),
    Step("attn", "Multi-head attention", "each token takes a weighted average of all tokens' values: the only step "
                                         "where tokens meet"),
    Step("add1", "Add", "the attention's result is added to the token it started from (the residual)"),
    Step("norm2", "LayerNorm", "the sum is normalised again, with its own learned scale and shift"),
    Step("mlp", "MLP", "two matrices with a GELU between them, applied to each token on its own"),
    Step("add2", "Add", "the MLP's result is added too: this is the block's output, the next block's input"),
)
STEP_KEYS: tuple[str, ...] = tuple(s.key for s in STEPS)
BY_STEP: dict[str, Step] = {s.key: s for s in STEPS}


def unsupported(model: torch.nn.Module) -> str | None:
    """Why this page cannot open ``model``'s blocks; None when it can (timm ``Block`` with ``Attention``, ``Mlp``)."""
    for i, blk in enumerate(getattr(model, "blocks", ())):
        if not (isinstance(blk, Block) and isinstance(blk.attn, Attention) and isinstance(blk.mlp, Mlp)):
            attn = type(getattr(blk, "attn", None)).__name__
            return (f"block {i + 1} of this model is a {type(blk).__name__} with {attn} attention; this page opens "
                    "timm's standard pre-norm Block (Attention + Mlp) only")
    return None if len(getattr(model, "blocks", ())) else "this model has no transformer blocks"


def _float32(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` itself when its weights are float32, else a float32 copy (a model loaded in lower precision)."""
    return module if _in_float32(module) else copy.deepcopy(module).float()


def _np(t: torch.Tensor) -> np.ndarray:
    """A read-only float32 numpy copy of ``t`` (results are cached and shared by sessions, like an Analysis)."""
    a = np.array(t.detach().float().cpu().numpy(), dtype=np.float32, copy=True)
    a.setflags(write=False)
    return a


def token_index(analysis: Analysis, patch: int | None) -> int:
    """The token of ``patch`` (0-based, raster order) in the sequence; None means the first token (the CLS token,
    or patch 0 of a model without prefix tokens)."""
    return 0 if patch is None else analysis.num_prefix + int(patch)


def token_name(analysis: Analysis, token: int) -> str:
    """"the CLS token", "the distillation token", "register 2", "patch 5"."""
    name = analysis.token_name(token)
    if name in ("CLS", "distillation"):
        return f"the {name} token"
    return name


# ---------------------------------------------------------------------------------------------------------------
# the residual stream and the logit lens


@dataclass(frozen=True, eq=False)  # hashed by identity: a cached stream is a figure setting
class Stream:
    """The tokens between blocks in float32, as the model's own blocks compute them."""

    tokens: np.ndarray  # [L+1, T, D] float32: block 1's input, then each block's output
    head: np.ndarray  # [L+1, C] float32: model.forward_head(model.norm(·)) at every depth (pooled features [L+1, D]
    #                   for a model without a classifier); row L is what the model outputs
    has_classifier: bool

    @property
    def depth(self) -> int:
        return self.tokens.shape[0] - 1


def residual_stream(bundle: Bundle, analysis: Analysis) -> Stream:
    """Block 1's input through every block of the model in float32; the final norm and head at each depth.

    A model whose block outputs are float32 (fp32; int8 and int4 too, whose quantised weights report float32)
    already did this in the analysis's forward pass, which kept those outputs as they were: only the norm and
    head run here. Otherwise the blocks run again, in float32 copies."""
    model = bundle.model
    if stream_from_analysis(bundle, analysis):
        tokens = as_input(np.concatenate([analysis.tokens_in[None], analysis.block_outputs]), bundle.device)
    else:
        tokens = _recomputed(bundle, analysis)
    with torch.inference_mode():
        head_model = _float32(model)
        head = head_model.forward_head(head_model.norm(tokens))  # [L+1, C]
    return Stream(_np(tokens), _np(head), len(bundle.labels) > 0)


def stream_from_analysis(bundle: Bundle, analysis: Analysis) -> bool:
    """Whether ``residual_stream`` reads the blocks' outputs from the analysis (no block runs again)."""
    return analysis.block_outputs.dtype == np.float32 and _in_float32(bundle.model.blocks)


def _in_float32(module: torch.nn.Module) -> bool:
    return all(p.dtype == torch.float32 for p in module.parameters())


def _recomputed(bundle: Bundle, analysis: Analysis) -> torch.Tensor:
    """[L+1, T, D]: block 1's input, then each block's output, run again with float32 copies of the blocks."""
    blocks = [_float32(blk) for blk in bundle.model.blocks]
    x = as_input(analysis.tokens_in[None], bundle.device)  # [1, T, D] float32
    with torch.inference_mode():
        states = [x]
        for blk in blocks:
            x = blk(x)  # [1, T, D]: the model's own block forward
            states.append(x)
        return torch.cat(states)


def sequence_order(analysis: Analysis) -> str:
    """The sequence's order in words ("0 = CLS, then patches in raster order"; registers and the distillation token
    named; "patches in raster order from 0" without prefix tokens)."""
    from vitviz.figures.steps import sequence_words  # the figures' axis titles say it the same way

    return sequence_words(analysis.prefix_names)


POOL_WORDS = {  # timm's global_pool -> what the head reads, in words
    "token": "the CLS token",
    "avg": "the average of the patch tokens",
    "avgmax": "the average and the maximum of the patch tokens",
    "max": "the maximum of the patch tokens, dimension by dimension",
    "map": "an attention pool of the tokens (one learned query attending to them all: SigLIP's MAP head)",
    "": "every token (no pooling)",
}


def head_reads(model: torch.nn.Module) -> str:
    """What the head reads of the tokens, in words (timm's ``global_pool``: "token" reads the CLS token; DeiT's
    distilled models read the CLS and distillation tokens and average their two heads' answers)."""
    pool = str(getattr(model, "global_pool", "token") or "")
    if pool == "token" and getattr(model, "dist_token", None) is not None:
        return "the CLS and distillation tokens (the mean of their two heads)"
    if pool in ("avg", "avgmax", "max") and getattr(model, "pool_include_prefix", False):
        return POOL_WORDS[pool].replace("patch tokens", "tokens")
    return POOL_WORDS.get(pool, f"the tokens pooled by “{pool}”")


@dataclass(frozen=True)
class Lens:
    """The logit lens: the final norm and classifier applied to the tokens after each block."""

    has_classifier: bool
    final_class: int  # the model's prediction (-1 without a classifier)
    probs: np.ndarray  # [L+1, C] softmax at every depth (empty without a classifier)
    final_prob: np.ndarray  # [L+1]: probability of the final prediction at each depth (empty without)
    top: tuple[tuple[tuple[int, float], ...], ...]  # per depth, the top-5 (class, probability)
    similarity: np.ndarray  # [L+1]: cosine of the head's input/output at each depth with the last one
    last_vs_logits: float  # max |lens at the last depth − the logits of the analysis| (nan without a classifier)


def logit_lens(stream: Stream, analysis: Analysis, k: int = 5) -> Lens:
    """Read the stream at every depth through the final norm and the head (nostalgebraist's logit lens)."""
    head = stream.head.astype(np.float64)  # [L+1, C]
    unit = head / np.maximum(np.linalg.norm(head, axis=-1, keepdims=True), 1e-12)
    similarity = (unit @ unit[-1]).astype(np.float32)  # [L+1]
    if not stream.has_classifier:
        return Lens(False, -1, np.zeros((0, 0), np.float32), np.zeros(0, np.float32), (), similarity,
                    float("nan"))
    z = head - head.max(-1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)  # [L+1, C]
    final = int(np.argmax(stream.head[-1]))
    order = np.argsort(-probs, axis=-1)[:, :k]  # [L+1, k]
    top = tuple(tuple((int(c), float(probs[d, c])) for c in row) for d, row in enumerate(order))
    diff = float(np.abs(stream.head[-1] - analysis.logits).max()) if analysis.logits.size else float("nan")
    return Lens(True, final, probs.astype(np.float32), probs[:, final].astype(np.float32), top, similarity, diff)


def settled_depth(lens: Lens) -> int:
    """The first depth (0 = the input) from which the final prediction stays the lens's top-1 to the end."""
    depth = len(lens.top)
    for d in range(depth - 1, -1, -1):
        if lens.top[d][0][0] != lens.final_class:
            return d + 1
    return 0


def _depths(start: int, end: int) -> str:
    """Depths ``start``..``end`` (0 = the input, d = block d) in words: "block 8", "blocks 7–8"."""
    if start == end:
        return "the input" if start == 0 else f"block {start}"
    return f"the input to block {end}" if start == 0 else f"blocks {start}–{end}"


def before_phrase(lens: Lens, names: list[str], first: int) -> str:
    """What the lens read before depth ``first`` (> 0), in words. When one class was top at every earlier depth:
    "; before it the reading is “cross”". Otherwise the run just before is named, and what came earlier:
    "; just before it (blocks 7–8) the reading is “guenon”; earlier it changes from block to block" (or
    "; earlier it is “yurt”" when every earlier depth read one other class)."""
    tops = [row[0][0] for row in lens.top[:first]]  # the top class at depths 0..first-1
    start = first - 1
    while start > 0 and tops[start - 1] == tops[first - 1]:
        start -= 1
    reading = f"“{names[tops[first - 1]]}”"
    if start == 0:
        return f"; before it the reading is {reading}"
    earlier = set(tops[:start])
    rest = (f"earlier it is “{names[tops[0]]}”" if len(earlier) == 1 else "earlier it changes from block to block")
    return f"; just before it ({_depths(start, first - 1)}) the reading is {reading}; {rest}"


def settled_phrase(lens: Lens, names: list[str]) -> str:
    """Where the final prediction becomes the lens's top class, in words (``names``: a short label per class):
    "“star” is the top class from the input on", "… from block 2 on; before it the reading is “cross”", or, when
    only the last depth reads it, "… only in the last block (block 4); before it the reading is “cross”"; when the
    reading before it began later than the input, its run is named (``before_phrase``)."""
    first, last = settled_depth(lens), len(lens.top) - 1
    final = f"“{names[lens.final_class]}” is the top class "
    if first == 0:
        return final + "from the input on"
    before = before_phrase(lens, names, first)
    if first == last:
        return final + f"only in the last block (block {last})" + before
    return final + f"from block {first} on" + before


def update_sizes(stream: Stream, token: int) -> np.ndarray:
    """[L]: ‖x_{l+1} − x_l‖ / ‖x_l‖ for one token: how much each block changes it (its update to the stream)."""
    x = stream.tokens[:, token].astype(np.float64)  # [L+1, D]
    return (np.linalg.norm(np.diff(x, axis=0), axis=-1) / np.maximum(np.linalg.norm(x[:-1], axis=-1), 1e-12))


# How a block's update compares with the token it is added to (‖update‖ / ‖token‖), the rule behind the words.
REWRITE = 1.0  # at least as long as the token: the block rewrites it (the sum is mostly the new update)
SMALL = 0.25  # under a quarter of the token's length: a small update


def update_kind(size: float) -> str:
    """"rewrites" (size ≥ ``REWRITE``), "small" (size < ``SMALL``) or "changes" (in between)."""
    return "rewrites" if size >= REWRITE else ("small" if size < SMALL else "changes")


def update_runs(sizes: np.ndarray) -> list[tuple[int, int, str]]:
    """[L] update sizes -> runs of consecutive blocks of one kind: (first block, last block, kind), 1-based."""
    runs: list[tuple[int, int, str]] = []
    for i, size in enumerate(sizes, start=1):
        kind = update_kind(float(size))
        if runs and runs[-1][2] == kind:
            runs[-1] = (runs[-1][0], i, kind)
        else:
            runs.append((i, i, kind))
    return runs


def size_words(size: float) -> str:
    """An update size for people: "10.1×" from the token's length up, else a percentage that never rounds onto a
    bar it is below (0.996 reads "99.6%", not "100%")."""
    if size >= REWRITE:
        return f"{size:.1f}×"
    digits = 0
    while digits < 4 and any(size < bar <= round(size, digits + 2) for bar in (REWRITE, SMALL)):
        digits += 1
    return f"{size:.{digits}%}"


def _span(values: np.ndarray) -> str:
    lo, hi = float(values.min()), float(values.max())
    return size_words(lo) if size_words(lo) == size_words(hi) else f"{size_words(lo)}–{size_words(hi)}"


def update_sentence(sizes: np.ndarray, name: str) -> str:
    """How much each block changes ``name``, by runs of blocks, from the measured sizes [L] and the stated rule
    (``REWRITE``, ``SMALL``): e.g. "block 1 rewrites the CLS token (its update is 10.1× the token's length);
    from block 2 on, updates are smaller than the token (31%–73%)"."""
    runs = update_runs(sizes)
    parts = []
    for n, (first, last, kind) in enumerate(runs):
        who = name if n == 0 else "it"
        part = sizes[first - 1:last]
        one = first == last
        blocks = f"block {first}" if one else f"blocks {first}–{last}"
        if n > 0 and not one and last == len(sizes):  # the last run, to the end: "from block k on"
            words = {"rewrites": f"from block {first} on, every block rewrites it ({_span(part)} its length)",
                     "changes": f"from block {first} on, updates are smaller than the token but not small "
                                f"({_span(part)} of its length)",
                     "small": f"from block {first} on, updates are small ({_span(part)} of its length)"}[kind]
        elif kind == "rewrites":
            words = (f"{blocks} {'rewrites' if one else 'rewrite'} {who} ("
                     + (f"its update is {_span(part)} the token's length)" if one else f"updates {_span(part)} its "
                                                                                         "length)"))
        elif kind == "changes":
            words = f"{blocks} {'changes' if one else 'change'} {who} by less than its length ({_span(part)})"
        else:
            words = f"{blocks} {'adds a small update' if one else 'add small updates'} to {who} ({_span(part)})"
        parts.append(words)
    text = "; ".join(parts)
    return (text[0].upper() + text[1:] + f". (An update at least as long as the token rewrites it; one under "
            f"{SMALL:.0%} of the token's length is small.)")


# ---------------------------------------------------------------------------------------------------------------
# one block, opened up


@dataclass(frozen=True)
class BlockCheck:
    """The recompute against what the model computed."""

    attention_vs_captured: float  # max |softmax(q·k/√d) recomputed − captured (float16) attention|, all heads and rows
    output_vs_block: float  # max |step-by-step output − stream.tokens[layer + 1]|: the forward pass's kept output when
    #                         the blocks output float32 (then equal to output_vs_captured), else the float32 copy's
    output_vs_captured: float  # max |step-by-step output − the block output the analysis kept|


@dataclass(frozen=True, eq=False)  # hashed by identity: a cached trace is a figure setting
class BlockTrace:
    """Every intermediate of one block for every token, float32, recomputed from the block's input."""

    layer: int  # 0-based
    x: np.ndarray  # [T, D]: the block's input
    x_hat: np.ndarray  # [T, D]: norm1(x)
    q: np.ndarray  # [H, T, d]: queries (after q_norm, before the scale)
    k: np.ndarray  # [H, T, d]: keys (after k_norm)
    v: np.ndarray  # [H, T, d]: values
    scale: float  # 1/√d (attn.scale)
    heads_out: np.ndarray  # [H, T, d]: Σⱼ aⱼ vⱼ per head
    attn_out: np.ndarray  # [T, D]: ls1(proj(concatenated heads)): what attention adds to the token
    mid: np.ndarray  # [T, D]: x + attn_out
    mid_hat: np.ndarray  # [T, D]: norm2(mid): the MLP's input
    mlp_out: np.ndarray  # [T, D]: ls2(mlp(mid_hat)): what the MLP adds
    out: np.ndarray  # [T, D]: mid + mlp_out, the block's output
    check: BlockCheck

    @property
    def heads(self) -> int:
        return self.q.shape[0]

    @property
    def head_dim(self) -> int:
        return self.q.shape[2]


def _qkv(blk: Block, x_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x̂ [T, D] -> q, k, v [H, T, d] with the block's own qkv Linear and q/k norms (as timm's Attention does)."""
    attn = blk.attn
    t = x_hat.shape[0]
    q, k, v = attn.qkv(x_hat).reshape(t, 3, attn.num_heads, attn.head_dim).permute(1, 2, 0, 3)  # 3 × [H, T, d]
    return attn.q_norm(q), attn.k_norm(k), v


def _mix(blk: Block, x_hat: torch.Tensor, heads_out: torch.Tensor) -> torch.Tensor:
    """Per-head outputs [H, T, d] -> what attention adds [T, D]: concatenate, (norm, gate,) project, layer scale."""
    attn = blk.attn
    concat = attn.norm(heads_out.transpose(0, 1).reshape(heads_out.shape[1], attn.attn_dim))  # [T, H·d]
    gate = getattr(attn, "gate", None)
    if gate is not None:
        concat = concat * gate(x_hat).sigmoid()
    return blk.drop_path1(blk.ls1(attn.proj_drop(attn.proj(concat))))  # [T, D]


def _mlp(blk: Block, mid: torch.Tensor) -> torch.Tensor:
    """What the MLP adds [T, D] to tokens ``mid`` [T, D], each token on its own."""
    return blk.drop_path2(blk.ls2(blk.mlp(blk.norm2(mid))))


def trace(bundle: Bundle, analysis: Analysis, layer: int, stream: Stream) -> BlockTrace:
    """Open block ``layer`` (0-based): every step for every token, from its float32 input ``stream.tokens[layer]``."""
    blk = _float32(bundle.model.blocks[layer])
    x = as_input(stream.tokens[layer], bundle.device)  # [T, D]
    with torch.inference_mode():
        x_hat = blk.norm1(x)  # [T, D]
        q, k, v = _qkv(blk, x_hat)  # [H, T, d] each
        attn = ((q * blk.attn.scale) @ k.transpose(-2, -1)).softmax(-1)  # [H, T, T]
        heads_out = attn @ v  # [H, T, d]
        attn_out = _mix(blk, x_hat, heads_out)  # [T, D]
        mid = x + attn_out
        mid_hat = blk.norm2(mid)
        mlp_out = _mlp(blk, mid)
        out = mid + mlp_out  # [T, D]
    out_np = _np(out)
    check = BlockCheck(
        attention_vs_captured=float(np.abs(_np(attn) - analysis.attentions[layer].astype(np.float32)).max()),
        output_vs_block=float(np.abs(out_np - stream.tokens[layer + 1]).max()),  # the block's own forward of x
        output_vs_captured=float(np.abs(out_np - analysis.block_outputs[layer].astype(np.float32)).max()))
    return BlockTrace(layer, _np(x), _np(x_hat), _np(q), _np(k), _np(v), float(blk.attn.scale), _np(heads_out),
                      _np(attn_out), _np(mid), _np(mid_hat), _np(mlp_out), out_np, check)


def added_size(trace_: BlockTrace, token: int, step: str) -> float:
    """‖what the step adds‖ / ‖what it is added to‖ for one token: attention's result against the block's input
    (``add1``), the MLP's against the sum after attention (``add2``)."""
    added, base = (trace_.attn_out, trace_.x) if step == "add1" else (trace_.mlp_out, trace_.mid)
    return float(np.linalg.norm(added[token].astype(np.float64))
                 / max(np.linalg.norm(base[token].astype(np.float64)), 1e-12))


def add_sentence(trace_: BlockTrace, token: int, step: str, name: str) -> str:
    """What the residual add at ``step`` does to ``name`` in this block, measured, in the words of the rule."""
    size = added_size(trace_, token, step)
    what = "attention's result" if step == "add1" else "the MLP's result"
    to = (f"{name} as it entered block {trace_.layer + 1}" if step == "add1" else
          f"{name} after attention")
    kind = update_kind(size)
    said = {"rewrites": "as long as the token or longer, so it rewrites the token rather than adjusting it",
            "changes": "shorter than the token, but not a small change",
            "small": f"a small update (under {SMALL:.0%} of the token's length)"}[kind]
    return f"Here {what} is {size_words(size)} {'the' if size >= REWRITE else 'of the'} length of {to}: {said}."


@dataclass(frozen=True)
class Norm:
    """A LayerNorm on one token: before, after, and the learned scale and shift."""

    before: np.ndarray  # [D]
    after: np.ndarray  # [D]
    weight: np.ndarray  # [D] γ (ones when the norm has no affine part)
    bias: np.ndarray  # [D] β (zeros when none)
    normalised: np.ndarray  # [D] (x − mean) / spread, before γ and β
    mean_before: float
    std_before: float
    eps: float


def layer_norm(bundle: Bundle, trace_: BlockTrace, token: int, which: str) -> Norm:
    """The block's ``norm1`` (before attention) or ``norm2`` (before the MLP) on one token."""
    norm = getattr(bundle.model.blocks[trace_.layer], which)
    before = (trace_.x if which == "norm1" else trace_.mid)[token].astype(np.float64)  # [D]
    after = (trace_.x_hat if which == "norm1" else trace_.mid_hat)[token]
    d = before.size
    weight = _np(norm.weight) if getattr(norm, "weight", None) is not None else np.ones(d, np.float32)
    bias = _np(norm.bias) if getattr(norm, "bias", None) is not None else np.zeros(d, np.float32)
    eps = float(getattr(norm, "eps", 1e-6))
    mean, std = before.mean(), before.std()
    normalised = ((before - mean) / np.sqrt(before.var() + eps)).astype(np.float32)
    return Norm(before.astype(np.float32), after, weight, bias, normalised, float(mean), float(std), eps)


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(scores / temperature) over the last axis, in float64."""
    z = scores.astype(np.float64) / temperature
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


@dataclass(frozen=True)
class QueryStep:
    """Attention for one query token in one head, written out."""

    token: int
    head: int
    q: np.ndarray  # [d]: the query
    scores: np.ndarray  # [T]: q·kⱼ/√d
    row: np.ndarray  # [T]: softmax(scores): the attention row (temperature 1)
    captured: np.ndarray  # [T]: the row the model produced (float16 capture)
    row_vs_captured: float  # max |row − captured|
    out: np.ndarray  # [d]: Σⱼ rowⱼ vⱼ, this head's output for the token
    temperature: float
    row_t: np.ndarray  # [T]: softmax(scores / temperature) (the what-if)
    out_t: np.ndarray  # [d]: Σⱼ row_tⱼ vⱼ

    @property
    def out_change(self) -> float:
        """‖out_t − out‖ / ‖out‖: how much the temperature moves this head's output."""
        return float(np.linalg.norm(self.out_t - self.out) / max(np.linalg.norm(self.out), 1e-12))


def effective_tokens(row: np.ndarray) -> float:
    """exp(entropy) of an attention row: how many tokens it spreads over (1: one token; T: all alike)."""
    p = row[row > 0].astype(np.float64)
    return float(np.exp(-(p * np.log(p)).sum()))


def query_step(trace_: BlockTrace, analysis: Analysis, head: int, token: int, temperature: float = 1.0) -> QueryStep:
    """q·k/√d, softmax and Σ aⱼvⱼ for ``token`` in ``head``; ``temperature`` divides the scores (a what-if)."""
    if not temperature > 0:
        raise ValueError("the temperature must be positive")
    q = trace_.q[head, token]  # [d]
    scores = (trace_.k[head].astype(np.float64) @ (q.astype(np.float64) * trace_.scale))  # [T]
    row = softmax(scores)
    row_t = row if temperature == 1.0 else softmax(scores, temperature)
    v = trace_.v[head].astype(np.float64)  # [T, d]
    captured = analysis.attentions[trace_.layer, head, token].astype(np.float32)
    return QueryStep(token, head, q, scores.astype(np.float32), row.astype(np.float32), captured,
                     float(np.abs(row - captured).max()), (row @ v).astype(np.float32), float(temperature),
                     row_t.astype(np.float32), (row_t @ v).astype(np.float32))


def top_keys(step: QueryStep, k: int = 3) -> np.ndarray:
    """The ``k`` tokens with the highest scores (= highest attention) for this query."""
    return np.argsort(-step.scores)[:k]


@dataclass(frozen=True)
class MlpStep:
    """The MLP on one token."""

    pre: np.ndarray  # [F]: fc1(x̂), F hidden units
    act: np.ndarray  # [F]: GELU(fc1(x̂))
    out: np.ndarray  # [D]: ls2(fc2(·)): what the MLP adds to the token
    firing: int  # units with a positive output (GELU(h) > 0 exactly when h > 0)


def mlp_step(bundle: Bundle, trace_: BlockTrace, token: int) -> MlpStep:
    """fc1 -> GELU -> fc2 for one token, with the block's own modules."""
    blk = _float32(bundle.model.blocks[trace_.layer])
    mlp = blk.mlp
    x = as_input(trace_.mid_hat[token], bundle.device)  # [D]
    with torch.inference_mode():
        pre = mlp.fc1(x)  # [F]
        act = mlp.act(pre)
        out = blk.ls2(mlp.drop2(mlp.fc2(mlp.norm(mlp.drop1(act)))))  # [D]
    return MlpStep(_np(pre), _np(act), _np(out), int((_np(act) > 0).sum()))


# ---------------------------------------------------------------------------------------------------------------
# what-ifs: only attention mixes tokens


@dataclass(frozen=True)
class MixingWhatIf:
    """Noise in another token, and what moves in this one (relative changes ‖Δ‖/‖·‖)."""

    token: int
    other: int  # the token replaced by noise
    mlp_input_alone: float  # (a) the other's MLP input (after attention) is noise: Δ of this token's MLP input …
    mlp_alone: float  # (a) … and max |Δ this token's MLP output| (0: the MLP works on each token alone)
    attention_moved: float  # (b) the other's block input is noise: this token's attention output moves …
    mlp_input_moved: float  # … and with it its MLP input …
    mlp_output_moved: float  # … and its MLP output


def most_attended(trace_: BlockTrace, token: int) -> int:
    """The token that ``token`` attends to most in this block (mean over heads), other than itself."""
    scores = np.einsum("hd,htd->ht", trace_.q[:, token], trace_.k) * trace_.scale  # [H, T]
    row = softmax(scores).mean(0)
    row[token] = -1.0
    return int(np.argmax(row))


def _noise_like(vector: np.ndarray, seed: int) -> np.ndarray:
    """Gaussian noise with the mean and spread of ``vector`` [D]."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(vector.shape) * vector.std() + vector.mean()).astype(np.float32)


def _rel(new: torch.Tensor, old: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(new - old) / torch.clamp(torch.linalg.vector_norm(old), min=1e-12))


def mixing_what_ifs(bundle: Bundle, trace_: BlockTrace, token: int, other: int | None = None,
                    seed: int = NOISE_SEED) -> MixingWhatIf:
    """(a) another token's MLP input replaced by noise: this token's MLP output does not move; (b) another
    token's block input replaced by noise: this token's attention output moves, and its MLP input and output."""
    other = most_attended(trace_, token) if other is None else int(other)
    if other == token:
        raise ValueError("the noisy token must be another token")
    blk = _float32(bundle.model.blocks[trace_.layer])
    dev = bundle.device
    with torch.inference_mode():
        mid = as_input(trace_.mid, dev)  # [T, D]
        noisy_mid = mid.clone()
        noisy_mid[other] = as_input(_noise_like(trace_.mid[other], seed), dev)
        mlp_input_alone = _rel(blk.norm2(noisy_mid)[token], as_input(trace_.mid_hat[token], dev))  # (a)
        mlp_alone = float((_mlp(blk, noisy_mid)[token] - as_input(trace_.mlp_out[token], dev)).abs().max())
        x = as_input(trace_.x, dev)
        noisy_x = x.clone()
        noisy_x[other] = as_input(_noise_like(trace_.x[other], seed), dev)
        attn, noisy_attn = (blk.drop_path1(blk.ls1(blk.attn(blk.norm1(t[None]))))[0] for t in (x, noisy_x))  # (b)
        # this token's row only, clean and noisy side by side: the MLP works on each token alone, so the other
        # rows would not change it (and (a) above measures exactly that); two MLPs over every token cost 13 ms
        pair = torch.stack([(x + attn)[token], (noisy_x + noisy_attn)[token]])  # [2, D]
        mlp_in, mlp_b = blk.norm2(pair), _mlp(blk, pair)  # [2, D] each
        return MixingWhatIf(token, other, mlp_input_alone, mlp_alone, _rel(noisy_attn[token], attn[token]),
                            _rel(mlp_in[1], mlp_in[0]), _rel(mlp_b[1], mlp_b[0]))
