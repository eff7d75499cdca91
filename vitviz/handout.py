"""A self-contained HTML handout of the whole walk-through for one image and model.

plotly.js is inlined once, so the file opens with no network (a classroom, a USB stick).
Everything comes from the cached analysis and the model's weights: no extra forward pass.
"""

from __future__ import annotations

import datetime as _dt
import html

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from vitviz.stages import attention

from vitviz.stages import memory

from vitviz.stages import numbers

from vitviz.stages import positions

from vitviz.stages import vectors
from vitviz.model.analysis import Analysis
from vitviz.figures.bits import bit_fields
from vitviz.figures.images import heatmap_overlay, image_figure, patch_grid_figure, tiles_figure
from vitviz.figures.maps import distance_figure, similarity_grid_figure, small_multiples
from vitviz.figures.prediction import short_label, top_k_bar
from vitviz.figures.tokens import matrix_figure, token_strip
from vitviz.model.loading import Bundle

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 2em; } h2 { margin-top: 2em; border-bottom: 2px solid #0072B2; }
.q { font-weight: 600; } table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
.fig { margin: 1em 0; }
"""


def _fig(fig: go.Figure) -> str:
    return f'<div class="fig">{fig.to_html(full_html=False, include_plotlyjs=False)}</div>'


def _table(rows: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def handout_html(bundle: Bundle, analysis: Analysis, image_name: str = "image") -> str:
    """The walk-through as one HTML page: image → patches → vectors → attention → positions → bits → prediction."""
    a, model, spec = analysis, bundle.model, bundle.spec
    P = a.patch_size
    parts: list[str] = []
    add = parts.append
    add(f"<h1>How {html.escape(spec.title)} reads “{html.escape(image_name)}”</h1>")
    add(f"<p>Model <code>{html.escape(spec.timm_name)}</code> ({spec.params:,} parameters; {html.escape(spec.note)}) "
        f"· weights: {html.escape(bundle.source)} · made {_dt.date.today().isoformat()} with vitviz.</p>")

    add("<h2>1 · The image the model sees, and its prediction</h2>")
    add(_fig(image_figure(a.image, f"{a.image.shape[1]}×{a.image.shape[0]} px after the model's resize and crop",
                          height=380)))
    if a.top_labels:
        add(_fig(top_k_bar(a.top_labels, a.top_probs, "Top-5 prediction")))
    else:
        add("<p>This model is self-supervised: it has no classifier.</p>")

    add("<h2>2 · Patches</h2>")
    add(f"<p class='q'>Is a pixel like a sub-token? No: the token is a whole {P}×{P} patch.</p>"
        f"<p>{a.grid[0]}×{a.grid[1]} = {a.num_patches} patches, {a.num_tokens} tokens with CLS, "
        f"{a.num_tokens ** 2:,} attention scores per head per layer.</p>")
    add(_fig(patch_grid_figure(a.image, P, a.grid, height=520, title="The patch grid, raster order")))
    add(_fig(token_strip(a.image, P, a.grid, title="The token sequence: CLS, then the patches row by row")))

    add("<h2>3 · Vectors</h2>")
    check = vectors.show_the_math(a, model, a.num_patches // 2)
    twin = vectors.twin_patches(a)
    n_in = check.inputs.size  # C·P·P: the normalised pixels (and any fixed extra channel)
    add(f"<p>Each patch's {n_in} input values ({', '.join(a.input_channels)}) times one {a.embed_dim}×{n_in} matrix, plus a bias, "
        f"is its vector (checked here: max difference {check.max_abs_diff:.1e}). The two most alike patches "
        f"({twin.first}, {twin.second}) have cosine {twin.before_cosine:.4f} before positions and "
        f"{twin.after_cosine:.4f} after: vectors are not unique by themselves. The CLS token is a learned vector, "
        "the same for every image before block 1.</p>")
    add(_fig(matrix_figure(a.patch_embeddings, f"All {a.num_patches} patch vectors × {a.embed_dim} dimensions")))
    add(_fig(tiles_figure(vectors.filter_components(model, 28), columns=14,
                          title="Principal components of the projection filters", height=260)))

    add("<h2>4 · Attention</h2>")
    add(_fig(small_multiples(a.image, [attention.cls_attention(a, i) for i in range(a.depth)],
                             [f"block {i + 1}" for i in range(a.depth)], columns=min(6, a.depth),
                             title="CLS attention, mean over heads, every block")))
    add(_fig(heatmap_overlay(a.image, attention.rollout_map(a), P, 0.6, height=420,
                             title="Attention rollout (0.5·A + 0.5·I, rows renormalised, layers multiplied)")))
    add(_fig(distance_figure(attention.mean_attention_distance(a.attentions, a.grid, P, a.num_prefix),
                             attention.uniform_attention_distance(a.grid, P), "Mean attention distance")))

    add("<h2>5 · Positions</h2>")
    pos = positions.patch_positions_embed(a)
    s = positions.structure(pos, a.grid)
    add(f"<p>The position embeddings are learned (not sin/cos) and added to the patch vectors. Mean cosine with the 4 "
        f"neighbours {s.neighbour_cosine:.3f}, with positions ≥ 3 apart {s.far_cosine:.3f}.</p>")
    add(_fig(similarity_grid_figure(positions.tile_grid(positions.similarity_grid(pos, a.grid)), a.grid,
                                    "Cosine similarity of each position with every other")))

    add("<h2>6 · Bits and memory</h2>")
    add("<p>Numbers are not converted into binary at the end: they are binary floating-point numbers all along.</p>")
    add(_fig(bit_fields([numbers.encode_float(0.1, f) for f in numbers.FLOAT_FORMATS], "0.1 in five formats")))
    add(_table([{"dtype": r.dtype, "weights (MB)": f"{r.total / 1e6:,.2f}",
                 "training with Adam (MB)": f"{r.training_adam / 1e6:,.2f}" if r.training_adam else "not trainable"}
                for r in memory.weight_memory(model)]))
    shape = memory.Shape.of(model)
    add(f"<p>{memory.macs(shape) / 1e9:.3f} GMACs per image including the attention matmuls.</p>")

    add("<h2>7 · The prediction</h2>")
    if a.top_labels:
        add("<p>" + ", ".join(f"{html.escape(short_label(label))}: {p:.1%}"
                              for label, p in zip(a.top_labels, a.top_probs)) + "</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>vitviz handout</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>")


def figure_count(page_html: str) -> int:
    """How many plotly figures a handout holds (for checks)."""
    return page_html.count('class="plotly-graph-div"')

