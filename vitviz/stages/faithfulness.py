"""Stage: does a map explain the prediction? Occlusion, and deletion/insertion curves for every map.

- **Occlusion**: hide one patch (or one g×g group of patches) at a time and measure how much the target
  score drops: a causal map, measured, not read off the attention. Two ways to hide a patch: remove its
  token (the ViT way: the other tokens keep their positions, nothing new is shown), or paint its pixels
  with the image's mean colour (the model then reads a flat square, which is itself an input).
- **Deletion / insertion** (Petsiuk et al. 2018, RISE; Samek et al. 2017's most-relevant-first perturbation;
  here on tokens, not pixels): remove (deletion) or reveal (insertion) patch tokens from most to least important by a map and
  follow the target score. The area under the curve summarises it: a map that explains the prediction
  makes deletion fall faster (smaller area) and insertion rise faster (larger area) than random orders.

Masked inputs run in batches through ``vitviz.model.forward`` (one call per batch, inputs of a batch keep
the same number of tokens); an optional ``progress(done, total)`` callback counts masked inputs.
The target is the probability of a class; for a model without a classifier (DINO) it is the cosine
similarity of the model's output (the CLS token's features) to its output on the whole image.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from vitviz import wording
from vitviz.model import provenance
from vitviz.model.analysis import Analysis
from vitviz.model.forward import Outputs, run, run_kept_tokens
from vitviz.model.loading import Bundle
from vitviz.model.provenance import Provenance
from vitviz.stages import attention

Progress = Callable[[int, int], None]

VARIANTS = {"tokens": "remove the token", "pixels": "paint the image's mean colour"}
GROUPINGS = (1, 2, 4)  # g×g patches hidden together
MAX_DEFAULT_GROUPS = 64  # the default grouping keeps the occlusion map at <= 64 masked inputs (ViT-S/16: 49)
STEPS = 10  # deletion/insertion curves in steps of 10 % of the patches
RANDOM_ORDERS = 4  # the baseline: this many random orders (fixed seed), their mean and range
MARGIN_SHARE = 0.01  # a map beats random order when its area lies beyond every random order's by more than this
# share of the clean score (the target's score with every patch): areas are in the score's units, so a fixed margin
# would decide a random model's verdicts (score ~0.003) before anything is measured. On the bundled star
# (p = 0.897) it is 0.009, the old fixed 0.01 give or take a tenth: the bundled verdicts stay as they were.
BATCH_TOKENS = 16 * 197  # tokens per forward pass (ViT-S/16: 16 images); bounds the memory of a batch
METHODS = {"attention": "CLS attention (last block)", "rollout": "attention rollout",
           "gradient": "gradient rollout", "occlusion": "occlusion"}
RANDOM = "random order"
NO_CLS_ATTENTION = "attention received, mean of every token (last block)"  # a model without a CLS token


@dataclass(frozen=True)
class Target:
    """What is measured on each masked input."""

    class_index: int | None  # None for a model without a classifier
    label: str  # the class name ("" without a classifier)

    @property
    def has_class(self) -> bool:
        return self.class_index is not None

    @property
    def score_name(self) -> str:
        if self.has_class:
            return f"probability of “{self.label.split(',')[0].strip()}”"  # ImageNet synonyms: the first one
        return "cosine similarity to the whole image's output"


def target_for(analysis: Analysis, rank: int = 0) -> Target:
    """The class ranked ``rank`` (0: the prediction) among the top-5, or the cosine target without a classifier."""
    if not analysis.top_labels:
        return Target(None, "")
    if not 0 <= rank < len(analysis.top_indices):
        raise ValueError(f"rank must be 0..{len(analysis.top_indices) - 1} (the top-{len(analysis.top_indices)})")
    return Target(analysis.top_indices[rank], analysis.top_labels[rank])


def _scores(out: Outputs, target: Target, reference: np.ndarray | None) -> np.ndarray:
    """[B]: the target score of each input of a batch."""
    if target.has_class:
        return out.probs[:, target.class_index].astype(np.float64)
    f = out.logits.astype(np.float64)  # [B, D]
    r = reference.astype(np.float64)  # [D]
    return f @ r / np.maximum(np.linalg.norm(f, axis=1) * np.linalg.norm(r), 1e-12)


# -- patch groups ---------------------------------------------------------------------------------------------

def group_count(grid: tuple[int, int], group: int) -> int:
    return -(-grid[0] // group) * -(-grid[1] // group)


def default_group(grid: tuple[int, int]) -> int:
    """The smallest grouping whose occlusion map needs at most MAX_DEFAULT_GROUPS masked inputs."""
    for g in GROUPINGS:
        if group_count(grid, g) <= MAX_DEFAULT_GROUPS:
            return g
    return GROUPINGS[-1]


def group_ids(grid: tuple[int, int], group: int) -> np.ndarray:
    """[rows, cols]: the group of each patch (g×g blocks in raster order; partial blocks at the edges)."""
    r, c = np.mgrid[0:grid[0], 0:grid[1]]
    return (r // group) * -(-grid[1] // group) + c // group


# -- batched masked inputs ------------------------------------------------------------------------------------

class _Counter:
    """Counts masked inputs run and reports them to a progress callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.done, self.total, self.progress = 0, total, progress

    def add(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


def _chunk(tokens_per_input: int) -> int:
    return max(1, BATCH_TOKENS // max(tokens_per_input, 1))


def score_kept(bundle: Bundle, analysis: Analysis, keep: np.ndarray, target: Target,
               reference: np.ndarray | None, counter: _Counter | None = None) -> np.ndarray:
    """[B]: target scores of inputs that keep only the patches ``keep`` [B, K] (batched by token count)."""
    keep = np.sort(np.asarray(keep, dtype=np.int64), axis=1)  # token order does not matter; sorted is tidy
    if keep.shape[1] == 0 and analysis.num_prefix == 0:  # no CLS token and no patch: no input at all
        return np.full(keep.shape[0], chance_score(target, analysis))
    out = []
    step = _chunk(keep.shape[1] + analysis.num_prefix)
    for i in range(0, keep.shape[0], step):
        out.append(_scores(run_kept_tokens(bundle, analysis.patch_embeddings, keep[i:i + step]), target, reference))
        if counter is not None:
            counter.add(len(keep[i:i + step]))
    return np.concatenate(out)


def chance_score(target: Target, analysis: Analysis) -> float:
    """The score of an input with no token left, for a model without prefix tokens (SigLIP, average pooling), which
    cannot run on an empty sequence: a uniform answer over its classes (1/C), or no similarity (cosine 0)."""
    return 1.0 / analysis.logits.size if target.has_class and analysis.logits.size else 0.0


def empty_end_note(analysis: Analysis) -> str:
    """What the curves' "everything removed" end is on this model, in a sentence."""
    if analysis.num_prefix:
        return (f"With every patch removed, {' and '.join(analysis.prefix_names) if analysis.num_prefix < 3 else 'the prefix tokens'} "
                "alone remain: that is the curves' empty end.")
    return ("This model has no CLS token, so with every patch removed nothing is left to run: the curves' empty end is "
            "taken as a uniform answer (1 / the number of classes for a probability, 0 for a cosine similarity).")


def reference_output(bundle: Bundle, analysis: Analysis, variant: str = "tokens") -> Outputs:
    """The model's output with nothing hidden (every token kept, or the unpainted image), batch of one."""
    if variant == "tokens":
        return run_kept_tokens(bundle, analysis.patch_embeddings, np.arange(analysis.num_patches)[None])
    return run(bundle, analysis.pixels[None])


def _base(bundle: Bundle, analysis: Analysis, target: Target, variant: str) -> tuple[float, np.ndarray]:
    """(score with nothing hidden, the reference output [C]) for ``variant``."""
    out = reference_output(bundle, analysis, variant)
    ref = out.logits[0]  # [C]
    return float(_scores(out, target, ref)[0]), ref


def painted(analysis: Analysis, groups: np.ndarray, which: np.ndarray) -> np.ndarray:
    """[B, 3, H, W]: the normalised image with group ``which[b]``'s pixels set to the image's mean colour."""
    p = analysis.patch_size
    mean = analysis.pixels.mean(axis=(1, 2))  # [3]: the image's mean colour (normalised)
    x = np.repeat(analysis.pixels[None], len(which), axis=0)  # [B, 3, H, W]
    for b, g in enumerate(which):
        hidden = np.kron(groups == g, np.ones((p, p), bool))  # [H', W'] pixels of the group
        ys, xs = np.nonzero(hidden)
        x[b, :, ys.min():ys.max() + 1, xs.min():xs.max() + 1] = mean[:, None, None]
    return x


# -- occlusion ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Occlusion:
    """The drop of the target score when each group of patches is hidden."""

    drop: np.ndarray  # [rows, cols]: score with nothing hidden − score with the patch's group hidden
    groups: np.ndarray  # [rows, cols]: group id of each patch
    group: int  # g: g×g patches hidden together
    variant: str  # "tokens" or "pixels"
    base: float  # the target score with nothing hidden
    target: Target
    passes: int  # masked inputs run

    @property
    def group_drops(self) -> np.ndarray:
        """[G]: one drop per group."""
        out = np.zeros(int(self.groups.max()) + 1)
        out[self.groups.ravel()] = self.drop.ravel()
        return out


def occlusion(bundle: Bundle, analysis: Analysis, target: Target, group: int | None = None,
              variant: str = "tokens", progress: Progress | None = None) -> Occlusion:
    """Hide each g×g group of patches in turn (batched) and measure the drop of the target score."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {tuple(VARIANTS)}")
    group = default_group(analysis.grid) if group is None else group
    groups = group_ids(analysis.grid, group)  # [rows, cols]
    n_groups = int(groups.max()) + 1
    base, ref = _base(bundle, analysis, target, variant)
    counter = _Counter(n_groups, progress)
    flat = groups.ravel()  # [N]
    if variant == "tokens":
        scores = np.empty(n_groups)
        sizes = np.bincount(flat)
        for size in np.unique(sizes):  # inputs of one batch keep the same number of tokens
            which = np.nonzero(sizes == size)[0]
            keep = np.stack([np.nonzero(flat != g)[0] for g in which])  # [B, N - size]
            scores[which] = score_kept(bundle, analysis, keep, target, ref, counter)
    else:
        scores = np.empty(n_groups)
        step = _chunk(analysis.num_tokens)
        for i in range(0, n_groups, step):
            which = np.arange(i, min(i + step, n_groups))
            scores[which] = _scores(run(bundle, painted(analysis, groups, which)), target, ref)
            counter.add(len(which))
    return Occlusion(drop=(base - scores)[groups], groups=groups, group=group, variant=variant, base=base,
                     target=target, passes=n_groups)


def region_name(groups: np.ndarray, which: int) -> str:
    """Where group ``which`` sits, in words, counting rows and columns from 0 as the sidebar does: 'patch 27
    (row 3, column 3)' or 'the patches in rows 2–3, columns 4–5'."""
    rows, cols = np.nonzero(groups == which)
    if len(rows) == 1:
        return wording.patch_name(int(rows[0] * groups.shape[1] + cols[0]), groups.shape)
    return (f"the patches in rows {wording.span_name(int(rows.min()), int(rows.max()))}, "
            f"columns {wording.span_name(int(cols.min()), int(cols.max()))}")


def occlusion_margin(base: float) -> float:
    """The occlusion summary's margin: MARGIN_SHARE of the clean score, the curves' own margin (``Curves.margin``),
    so a random model's tiny score is judged on its own scale, not against a fixed floor it can never reach."""
    return MARGIN_SHARE * abs(base)


def occlusion_summary(occ: Occlusion) -> str:
    """What the occlusion map measured, in a few sentences that follow from the drops (a drop or a rise counts when
    it is larger than ``occlusion_margin``, MARGIN_SHARE of the clean score; below that it is said to leave the score
    unchanged)."""
    drops = occ.group_drops  # [G]: base − score with the group hidden (> 0: hiding it lowers the score)
    top, bottom = int(drops.argmax()), int(drops.argmin())
    tie = occlusion_margin(occ.base)
    lower, higher = int((drops > tie).sum()), int((drops < -tie).sum())
    margin = f"{MARGIN_SHARE:.0%} of its clean score ({_num(tie)})"
    unit = "patches" if occ.group == 1 else f"{occ.group}×{occ.group} regions"
    said = f"With nothing hidden the {occ.target.score_name} is **{occ.base:.3g}**. "
    if lower:
        said += f"Hiding {region_name(occ.groups, top)} lowers it most, to {occ.base - drops[top]:.3g}. "
    elif drops[top] > 0:
        said += (f"No region lowers it by more than {margin} (the largest drop, {drops[top]:.3g}, comes from "
                 f"hiding {region_name(occ.groups, top)}). ")
    else:
        said += "No region lowers it: hiding any one of them leaves it unchanged or raises it. "
    if higher:
        said += f"Hiding {region_name(occ.groups, bottom)} raises it most, to {occ.base - drops[bottom]:.3g}. "
    if lower or higher:
        return said + (f"Of the {len(drops)} {unit} hidden one at a time, {lower} lower it by more than {margin} "
                       f"and {higher} raise it by more than that.")
    return said + f"None of the {len(drops)} {unit} hidden one at a time changes it by more than {margin}."


def variants_summary(tokens: Occlusion, pixels: Occlusion, changed: np.ndarray) -> str:
    """How the two ways of hiding compare on this image, measured (``changed``: ``changed_patches`` of the region
    that matters most for the painted variant)."""
    r = rank_agreement(tokens.group_drops, pixels.group_drops)
    own = int((pixels.groups == int(pixels.group_drops.argmax())).sum())
    n = int(changed.sum())
    said = (f"On this image the two maps rank the {len(tokens.group_drops)} regions with a rank correlation of "
            f"**{r:.2f}** (1: the same order). Painting the region that matters most for the painted variant changed "
            f"{n} patch vector{'s' if n != 1 else ''}")
    if n > own:
        return said + (f": its own {own} and {n - own} neighbours, because this model's patch embedding reads "
                       "across patch borders (the bundled model's colour-edge channel sees the painted square's edges).")
    return said + f", only its own {own}: the other tokens are untouched, but the model now reads a flat square."


def rank_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (1: same order of importance)."""
    ra = np.argsort(np.argsort(a.ravel(), kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(b.ravel(), kind="stable"), kind="stable").astype(np.float64)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def changed_patches(bundle: Bundle, analysis: Analysis, groups: np.ndarray, which: int) -> np.ndarray:
    """[rows, cols] bool: the patch vectors that change when group ``which`` is painted with the mean colour (its
    own patches, plus neighbours for a patch embedding that reads across patch borders, like the bundled model's
    colour-edge channel)."""
    x = torch.from_numpy(painted(analysis, groups, np.array([which])))  # [1, 3, H, W]
    model = bundle.model
    with torch.inference_mode():
        new = model.patch_embed(x.to(bundle.device, next(model.parameters()).dtype))[0]  # [N, D] or [H', W', D]
        new = new.reshape(-1, new.shape[-1]).float().cpu().numpy()
    diff = np.abs(new.reshape(analysis.num_patches, -1) - analysis.patch_embeddings).max(axis=1)  # [N]
    return (diff > 1e-5).reshape(analysis.grid)


# -- deletion and insertion -----------------------------------------------------------------------------------

Scorer = Callable[[np.ndarray], np.ndarray]  # keep [B, K] patch indices -> [B] target scores


def importance_order(values: np.ndarray) -> np.ndarray:
    """[N]: patch indices from most to least important (ties in raster order)."""
    return np.argsort(-values.ravel().astype(np.float64), kind="stable")


def random_orders(n: int, count: int = RANDOM_ORDERS) -> np.ndarray:
    """[count, N]: the random orders of the baseline (a fixed seed: the same orders on every run)."""
    rng = np.random.default_rng(0)
    return np.stack([rng.permutation(n) for _ in range(count)]) if count else np.zeros((0, n), np.int64)


def method_maps(bundle: Bundle, analysis: Analysis, occlusion_map: np.ndarray,
                gradient_map: np.ndarray | None) -> dict[str, np.ndarray]:
    """The maps vitviz draws, by method key: [rows, cols] each (gradient rollout only with a class)."""
    maps = {"attention": attention.cls_attention(analysis, analysis.depth - 1),
            "rollout": attention.rollout_map(analysis)}
    if gradient_map is not None:
        maps["gradient"] = gradient_map
    maps["occlusion"] = occlusion_map
    return maps


@dataclass(frozen=True)
class Area:
    deletion: float  # area under the deletion curve (lower: the map's first patches matter more)
    insertion: float  # area under the insertion curve (higher: the map's first patches suffice sooner)


@dataclass(frozen=True)
class Curves:
    """Deletion and insertion curves of each map and of random orders, for one target."""

    fractions: np.ndarray  # [S + 1]: fraction of the patches removed (deletion) or revealed (insertion)
    deletion: dict[str, np.ndarray]  # method -> [S + 1] target score
    insertion: dict[str, np.ndarray]  # method -> [S + 1]
    random_deletion: np.ndarray  # [R, S + 1]
    random_insertion: np.ndarray  # [R, S + 1]
    target: Target
    passes: int  # masked inputs run
    maps: dict[str, np.ndarray] = field(repr=False)  # method -> [rows, cols], the maps that ordered the patches
    has_cls: bool = True  # False: the "attention" map is the attention each patch receives (no CLS row to read)

    def name(self, method: str) -> str:
        """The map's name in words: without a CLS token its attention map is what each patch receives."""
        if method == "attention" and not self.has_cls:
            return NO_CLS_ATTENTION
        return METHODS.get(method, method)

    def area(self, method: str) -> Area:
        if method == RANDOM:
            return Area(float(self.random_areas("deletion").mean()), float(self.random_areas("insertion").mean()))
        return Area(_auc(self.fractions, self.deletion[method]), _auc(self.fractions, self.insertion[method]))

    def random_areas(self, kind: str) -> np.ndarray:
        """[R]: the areas of each random order."""
        curves = self.random_deletion if kind == "deletion" else self.random_insertion
        return np.array([_auc(self.fractions, c) for c in curves])

    def random_range(self, kind: str) -> tuple[float, float]:
        """(smallest, largest) area of the random orders on curve ``kind``: the band the rule compares with."""
        areas = self.random_areas(kind)
        return float(areas.min()), float(areas.max())

    def areas(self) -> dict[str, Area]:
        return {**{m: self.area(m) for m in self.deletion}, RANDOM: self.area(RANDOM)}

    @property
    def base(self) -> float:
        """The clean score: the target's score with every patch (every deletion curve starts there)."""
        return float(self.random_deletion[0, 0])

    @property
    def margin(self) -> float:
        """The rule's margin, MARGIN_SHARE of the clean score (in the areas' units: score × fraction)."""
        return MARGIN_SHARE * abs(self.base)

    def judge(self, method: str, kind: str) -> int:
        """The rule (``rule``): +1 (better than random) when ``method``'s area lies beyond the whole range of the
        random orders' areas on the good side ("deletion": below it, "insertion": above it) by more than the margin
        (MARGIN_SHARE of the clean score), −1 (worse than random) when it lies beyond that range on the bad side by
        more than the margin, 0 otherwise (no better than random: within random's range)."""
        mine = getattr(self.area(method), kind)
        rand = self.random_areas(kind)
        sign = -1.0 if kind == "deletion" else 1.0  # make "larger is better" for both
        mine, rand = sign * mine, sign * rand
        return int(mine > rand.max() + self.margin) - int(mine < rand.min() - self.margin)


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.trapezoid(y, x)) if hasattr(np, "trapezoid") else float(np.trapz(y, x))


def curves_from(score: Scorer, n: int, maps: dict[str, np.ndarray], target: Target, base: float,
                steps: int = STEPS, random_count: int = RANDOM_ORDERS) -> Curves:
    """Deletion and insertion curves of each map's order and of ``random_count`` random orders, for any scorer of
    kept patches (the model's, or a constructed one whose answer is known).

    At step k of ``steps`` the first round(k·N/steps) patches of each order are removed (deletion) or are the
    only ones kept (insertion); every order at one step keeps the same number of tokens, so they run as one
    batch. Nothing removed is ``base`` (the score with every patch); everything removed is the score of no patch.
    """
    orders = np.concatenate([np.array([importance_order(maps[m]) for m in maps], np.int64).reshape(len(maps), n),
                             random_orders(n, random_count)])  # [M + R, N]
    counts = np.unique(np.rint(np.linspace(0, n, steps + 1)).astype(int))  # patches removed / revealed
    empty = float(score(np.zeros((1, 0), np.int64))[0])
    dele = np.empty((len(orders), len(counts)))
    ins = np.empty((len(orders), len(counts)))
    dele[:, 0], dele[:, -1], ins[:, 0], ins[:, -1] = base, empty, empty, base
    for j, k in enumerate(counts[1:-1], start=1):
        dele[:, j] = score(orders[:, k:])  # the first k removed
        ins[:, j] = score(orders[:, :k])  # only the first k kept
    m = len(maps)
    return Curves(fractions=counts / n, deletion=dict(zip(maps, dele[:m])), insertion=dict(zip(maps, ins[:m])),
                  random_deletion=dele[m:], random_insertion=ins[m:], target=target,
                  passes=2 + 2 * (len(counts) - 2) * len(orders), maps=dict(maps))


def curves(bundle: Bundle, analysis: Analysis, target: Target, maps: dict[str, np.ndarray],
           steps: int = STEPS, random_orders: int = RANDOM_ORDERS, progress: Progress | None = None) -> Curves:
    """Deletion and insertion curves for each map in ``maps`` and for ``random_orders`` random orders, on the
    model (``curves_from`` with token removal; everything removed leaves the prefix tokens alone: ``empty_end_note``)."""
    n = analysis.num_patches
    inner = len(np.unique(np.rint(np.linspace(0, n, steps + 1)).astype(int))) - 2
    counter = _Counter(2 + 2 * inner * (len(maps) + random_orders), progress)
    base, ref = _base(bundle, analysis, target, "tokens")
    counter.add(1)
    made = curves_from(lambda keep: score_kept(bundle, analysis, keep, target, ref, counter), n, maps, target,
                       base, steps, random_orders)
    return made if analysis.has_cls else dataclasses.replace(made, has_cls=False)


# -- what the curves show, in words ----------------------------------------------------------------------------

KINDS = ("deletion", "insertion")
STANDING = {1: "better than random", 0: "no better than random", -1: "worse than random"}
TABLE_WORDS = {1: "better", 0: f"no better (within random's range ± {MARGIN_SHARE:.0%} of the clean score)",
               -1: "worse"}  # the rule's words


def where(kind: str, judged: int, inside: bool = True, margin: float | None = None) -> str:
    """Where the area lies against random's range, for a judgement on curve ``kind`` (deletion: lower is better);
    ``inside``: a judgement 0 whose areas all lie inside the range itself, not only within the margin of it."""
    if judged == 0:
        if inside:
            return "within random's range"
        return f"within the margin ({_num(margin)}) of random's range" if margin is not None else \
            "within the margin of random's range"
    return "below random's range" if (judged == 1) == (kind == "deletion") else "above random's range"


def rule(orders: int = RANDOM_ORDERS, base: float | None = None) -> str:
    """The rule the verdict's words follow from (``Curves.judge``), in words; with the clean score ``base``, the
    margin it makes."""
    margin = f"{MARGIN_SHARE:.0%} of the clean score (the score with every patch)"
    if base is not None:
        margin += f", here {MARGIN_SHARE:.0%} of {_num(base)} = {_num(MARGIN_SHARE * abs(base))}"
    return (f"The rule: on each curve, the {orders} random orders' areas make a range. A map is better than "
            f"random when its area lies beyond that whole range on the good side (below it for deletion, above it "
            f"for insertion) by more than a margin of {margin}; worse than random when it lies beyond it on the bad "
            f"side by more than the margin; otherwise no better than random (within random's range, give or take "
            f"the margin). {orders} random orders are a rough band, not a significance test.")


def judgement(c: Curves, method: str) -> tuple[int, int]:
    """(deletion, insertion): +1 better than random, 0 within random's range, −1 worse (see ``Curves.judge``)."""
    return c.judge(method, "deletion"), c.judge(method, "insertion")


def _names(methods: list[str], c: Curves | None = None) -> str:
    names = [c.name(m) if c is not None else METHODS[m] for m in methods]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _num(v: float) -> str:
    """Three decimals, or three significant digits for small values (a random model's probabilities)."""
    return f"{v:.3f}" if abs(v) >= 0.1 else f"{v:.3g}"


def _area(v: float) -> str:
    """An area, where it is set beside random's range: three decimals, or four significant digits for small areas
    (a random model's, ~0.003), one more than ``_num`` so a reader can tell an area from the bound it is judged
    against."""
    return f"{v:.3f}" if abs(v) >= 0.1 else f"{v:.4g}"


def _span(values: list[float], fmt: Callable[[float], str] = _num) -> str:
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def _curve_verdict(c: Curves, kind: str) -> str:
    """One curve's clause: its random range, then each group of maps with the same judgement."""
    groups: dict[int, list[str]] = {}
    for m in c.deletion:
        groups.setdefault(c.judge(m, kind), []).append(m)
    lo, hi = c.random_range(kind)
    said = []
    for judged in (1, 0, -1):
        if ms := groups.get(judged):
            values = [getattr(c.area(m), kind) for m in ms]
            inside = all(lo <= v <= hi for v in values)
            said.append(f"{_names(ms, c)} {'are' if len(ms) > 1 else 'is'} {STANDING[judged]} "
                        f"(area{'s' if len(ms) > 1 else ''} {_span(values, _area)}, "
                        f"{where(kind, judged, inside, c.margin)})")
    better = "lower" if kind == "deletion" else "higher"
    return (f"on {kind} ({better} area is better; the {len(c.random_areas(kind))} random orders' areas span "
            f"{_area(lo)}–{_area(hi)}, mean {_area(getattr(c.area(RANDOM), kind))}), " + "; ".join(said))


def verdict(c: Curves) -> str:
    """What this image and model show, built from the areas by the stated rule (``rule``, ``Curves.judge``)."""
    deletion, insertion = (_curve_verdict(c, k) for k in KINDS)
    return (f"On this image, for the {c.target.score_name} ({_num(c.base)} with every patch; the rule's margin, "
            f"{MARGIN_SHARE:.0%} of it, is {_num(c.margin)}): {deletion}. {insertion[0].upper()}{insertion[1:]}.")


def insertion_note(c: Curves, origin: Provenance) -> str:
    """Why a map can beat random on deletion and still score below random order's mean on insertion, measured on
    these curves ("" when no map does): its areas against random order's mean and range, the first step of both
    curves for the maps whose first patches carry the score, then the likely reason, which follows where the
    weights came from (``origin``: only trained weights saw a token in every place in training)."""
    mean = c.area(RANDOM).insertion
    ms = [m for m in c.deletion if c.judge(m, "deletion") == 1 and c.area(m).insertion < mean]
    if not ms:
        return ""
    plural = len(ms) > 1
    lo, hi = c.random_range("insertion")
    said = (f"Why {_names(ms, c)} {'beat' if plural else 'beats'} random on deletion and still "
            f"{'score' if plural else 'scores'} below random order's mean on insertion "
            f"({_span([c.area(m).insertion for m in ms], _area)} against {_area(mean)}; the "
            f"{len(c.random_insertion)} random orders alone span {_area(lo)}–{_area(hi)}): deletion shows that the patches "
            f"{'they rank' if plural else 'it ranks'} first matter, since removing them lowers the score sooner than "
            "a random order does; insertion asks another question, whether those patches alone bring the score back. ")
    j = 1  # the first step: the fewest patches removed / revealed
    quick = [m for m in ms if c.deletion[m][j] < c.deletion[m][0] / 2]  # their first patches carry the score
    if quick and len(c.fractions) > 2:
        share = f"{c.fractions[j]:.0%}"
        who = ("each of them ranks" if len(quick) > 1 else "it ranks") if quick == ms else \
            f"{_names(quick, c)} rank{'s' if len(quick) == 1 else ''}"
        said += (f"Measured here: removing the first {share} of the patches {who} first lowers the "
                 f"{c.target.score_name} from {_num(float(c.deletion[quick[0]][0]))} to "
                 f"{_span([float(c.deletion[m][j]) for m in quick])}; revealing those same {share} alone gives "
                 f"{_span([float(c.insertion[m][j]) for m in quick])}, against "
                 f"{_num(float(c.insertion[quick[0]][0]))} with no patch at all. ")
    if not origin.trained_as_documented:
        return said + weights_caveat(origin)
    return said + ("The likely reason: for a model trained on sequences with a token in every place (the bundled "
                   "model and the zoo's models were; where DINOv2's training hid patches, a learned mask token kept "
                   "their place), a sequence with most of its patches missing is unlike anything seen in training, "
                   "so what it scores at insertion's first steps says little about which patches matter, and random "
                   "orders, which scatter the revealed patches over the whole image, can score higher there.")


def weights_caveat(origin: Provenance) -> str:
    """For weights without documented training, what every verdict above means (a random function's reactions,
    not learned evidence), as a sentence; '' for trained weights."""
    said = provenance.untrained_inputs(origin)
    return said[:1].upper() + said[1:] + "." if said else ""


def far_ends_sentence(origin: Provenance) -> str:
    """What the curves' far ends (most tokens removed) say, for the weights on screen (the page's section 3)."""
    if origin.trained_as_documented:
        return ("Removing many tokens shows the model inputs it never saw in training, so the curves' far ends say "
                "more about the model than about the map.")
    return weights_caveat(origin)


def areas_table(c: Curves) -> str:
    """The areas as a markdown table, with each map's standing against random order (``Curves.judge``)."""
    r = c.area(RANDOM)
    rows = ["| map | deletion area (lower is better) | insertion area (higher is better) | vs random |",
            "|---|---|---|---|"]
    for m in c.deletion:
        a = c.area(m)
        d, i = judgement(c, m)
        rows.append(f"| {c.name(m)} | {_area(a.deletion)} | {_area(a.insertion)} | deletion {TABLE_WORDS[d]}, "
                    f"insertion {TABLE_WORDS[i]} |")
    spread = lambda kind: "–".join(_area(v) for v in c.random_range(kind))  # noqa: E731
    rows.append(f"| {RANDOM}: mean of {len(c.random_deletion)} (range) | {_area(r.deletion)} ({spread('deletion')}) | "
                f"{_area(r.insertion)} ({spread('insertion')}) | — |")
    return "\n".join(rows)


# -- everything at once (command line, handout) --------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    occlusion: Occlusion
    curves: Curves

    @property
    def areas(self) -> dict[str, Area]:
        return self.curves.areas()


def evaluate(bundle: Bundle, analysis: Analysis, rank: int = 0, group: int | None = None,
             progress: Progress | None = None) -> Report:
    """The occlusion map (token removal) and the curves of every map, for the class ranked ``rank`` (gradient
    rollout left out where the number format has no gradient)."""
    target = target_for(analysis, rank)
    occ = occlusion(bundle, analysis, target, group, "tokens", progress)
    grad = (attention.gradient_rollout(bundle, analysis, target.class_index)
            if target.has_class and not attention.gradient_unavailable(bundle) else None)
    return Report(occ, curves(bundle, analysis, target, method_maps(bundle, analysis, occ.drop, grad),
                              progress=progress))
