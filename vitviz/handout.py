"""A self-contained HTML handout of the whole walk-through for one image and model.

Composed from the same pieces as the app: the stages in tour order with their questions and answers
(``vitviz.walkthrough``), the figures from the same builders the pages draw (``vitviz.views``), and
the article's claims. plotly.js is inlined once, so the file opens with no network (a classroom, a
USB stick). Everything comes from the analysis and the model's weights: no extra forward pass (the
Inside-a-block section recomputes the blocks in float32 from block 1's captured input), except the
Faithfulness section, which runs the masked images of its occlusion map and curves (in batches).
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Callable

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from vitviz.claims import graded
from vitviz.figures import style
from vitviz.figures.prediction import short_label
from vitviz.model import provenance
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import block, confidence, faithfulness, memory, position_code, positions, vectors
from vitviz.stages import odd_tokens
from vitviz.views import attention as attention_views, bits as bits_views, block as block_views
from vitviz.views import faithfulness as faithfulness_views
from vitviz.views import odd_tokens as odd_tokens_views
from vitviz.views import home as home_views
from vitviz.views import patches as patches_views, positions as positions_views, vectors as vectors_views
from vitviz.walkthrough import BY_KEY, STAGES

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 2em; } h2 { margin-top: 2em; border-bottom: 2px solid #0072B2; }
.q { font-weight: 600; } table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
.fig { margin: 1em 0; }
"""


def _fig(fig: go.Figure) -> str:
    """The figure in the app's look (``style.TEMPLATE``), not plotly's default theme."""
    fig = go.Figure(fig).update_layout(template=style.TEMPLATE)  # a copy: views may hand out a shared figure
    return f'<div class="fig">{fig.to_html(full_html=False, include_plotlyjs=False)}</div>'


def _table(rows: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _md(text: str) -> str:
    """The stage texts use **bold** only: escape, then turn it into <b>."""
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def _code(text: str) -> str:
    """Markdown `code` spans (``provenance.model_name``) as HTML: escape, then turn them into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _patches(b: Bundle, a: Analysis) -> list[str]:
    return [f"<p>{a.grid[0]}×{a.grid[1]} = {a.num_patches} patches of {a.patch_size}×{a.patch_size} px, "
            f"{a.num_tokens} tokens with {a.prefix_phrase}, {a.num_tokens ** 2:,} attention scores per head per layer.</p>",
            _fig(patches_views.grid(b, a, height=520)), _fig(patches_views.sequence(b, a))]


def _vectors(b: Bundle, a: Analysis) -> list[str]:
    check = vectors.show_the_math(b, a, a.num_patches // 2)
    twin = vectors.twin_patches(a)
    n_in = check.inputs.size  # C·P·P: the normalised pixels (and any fixed extra channel)
    return [f"<p>Each patch's {n_in} input values ({', '.join(a.input_channels)}) times one {a.embed_dim}×{n_in} "
            f"matrix, plus a bias, is its vector (checked here on patch {a.num_patches // 2}: max difference "
            f"{check.max_abs_diff:.1e}). The two most alike patches ({twin.first}, {twin.second}) have cosine "
            f"{twin.before_cosine:.4f} before positions and {twin.after_cosine:.4f} after.</p>",
            _fig(vectors_views.all_vectors(b, a)), _fig(vectors_views.filters(b, a)), _fig(vectors_views.twins(b, a))]


def _block(b: Bundle, a: Analysis) -> list[str]:
    if block.unsupported(b.model):
        return []
    stream = block.residual_stream(b, a)  # float32, from block 1's captured input: no forward pass from pixels
    last = block.trace(b, a, a.depth - 1, stream)
    lens = block.logit_lens(stream, a)
    token = block.token_index(a, a.num_patches // 2)
    mix = block.mixing_what_ifs(b, last, token)
    said = (f"<p>Recomputed in float32 with the model's own layers, block {a.depth}'s output equals the model's "
            f"(max difference {last.check.output_vs_block:.1e}) and its attention the captured one (float16, max "
            f"difference {last.check.attention_vs_captured:.1e}). Noise in {block.token_name(a, mix.other)}'s MLP "
            f"input moves {block.token_name(a, token)}'s MLP output by {mix.mlp_alone:.1e}; noise in its block input "
            f"moves {block.token_name(a, token)}'s attention output by {mix.attention_moved:.1%}: only attention "
            "mixes tokens.")
    if lens.has_classifier:
        said += (f" The logit lens at the last block equals the model's logits (max difference "
                 f"{lens.last_vs_logits:.1e}).")
    return [said + "</p>", _fig(block_views.diagram(b, a, "attn")),
            _fig(block_views.row_on_image(b, a, last, 0, 0)), _fig(block_views.lens(b, a, stream)),
            _fig(block_views.updates(b, a, stream, token))]


def _attention(b: Bundle, a: Analysis) -> list[str]:
    return [_fig(attention_views.layers(b, a)), _fig(attention_views.rollout(b, a)),
            _fig(attention_views.distances(b, a))]


def _faithfulness(b: Bundle, a: Analysis) -> list[str]:
    report = faithfulness.evaluate(b, a)  # token removal, default grouping, the predicted class
    return [f"<p>{_md(faithfulness.occlusion_summary(report.occlusion))}</p>",
            _fig(faithfulness_views.occlusion_map(b, a, report.occlusion)),
            _fig(faithfulness_views.curves(b, a, report.curves)),
            f"<p><b>{html.escape(faithfulness.verdict(report.curves))}</b></p>",
            _table([{"map": report.curves.name(m), "deletion area (lower is better)": f"{v.deletion:.3f}",
                     "insertion area (higher is better)": f"{v.insertion:.3f}"} for m, v in report.areas.items()])]


def _positions(b: Bundle, a: Analysis) -> list[str]:
    code = position_code.position_code(positions.patch_positions_embed(a), a.grid)
    return [f"<p>{_md(position_code.verdict(code))}</p>",
            _fig(positions_views.learned_similarity(b, a)), _fig(positions_views.code_shares(b, a)),
            _fig(positions_views.sincos_similarity(b, a, "2d"))]


def _odd_tokens(b: Bundle, a: Analysis) -> list[str]:
    """The norm rule's verdict and its figures, read from the analysis (the blank image's pass stays in the app)."""
    flags = odd_tokens.flags_by_block(odd_tokens.token_norms(a), odd_tokens.Layout.of(a))
    last = a.depth - 1
    return [f"<p>{_md(odd_tokens.norm_verdict(flags, a.grid))}</p>",
            _fig(odd_tokens_views.norm_map(b, a, last, odd_tokens.NORM_K, a.num_patches // 2)),
            _fig(odd_tokens_views.norm_ratios(b, a, odd_tokens.NORM_K))]


def _bits(b: Bundle, a: Analysis) -> list[str]:
    shape = memory.Shape.of(b.model)
    return [_fig(bits_views.one_number(b, a, 0.1)),
            _table([{"dtype": r.dtype, "weights (MB)": f"{r.total / 1e6:,.2f}",
                     "training with Adam, all held at once (MB)": _training_sum(b, r.dtype),
                     "accelerate estimate-memory, its largest single stage (MB)":
                         f"{r.training_adam / 1e6:,.2f}" if r.training_adam else ""}
                    for r in memory.weight_memory(b.model)]),
            "<p>Training with Adam holds weights, gradients, Adam's m and v (and, in mixed precision, an fp32 "
            "master copy) at once: 16 bytes per parameter in fp32 and in fp16/bf16 mixed precision alike "
            "(Micikevicius et al. 2018; ZeRO, Rajbhandari et al. 2020, §3), before activations.</p>",
            f"<p>{memory.macs(shape) / 1e9:.3f} GMACs per image including the attention matmuls.</p>",
            _fig(bits_views.patch_size_cost(b, a))]


def _training_sum(b: Bundle, dtype: str) -> str:
    if dtype not in ("fp32", "fp16", "bf16"):
        return memory.INTEGER_TRAINING_NOTE
    return f"{sum(memory.training_memory(b.model, dtype).components.values()) / 1e6:,.2f}"


SECTIONS: dict[str, Callable[[Bundle, Analysis], list[str]]] = {
    "patches": _patches, "vectors": _vectors, "block": _block, "attention": _attention,
    "faithfulness": _faithfulness, "positions": _positions,
    "bits": _bits}
SECTIONS["odd_tokens"] = _odd_tokens


def handout_html(bundle: Bundle, analysis: Analysis, image_name: str = "image") -> str:
    """The walk-through as one HTML page: the image and prediction, every stage in tour order, the claims."""
    a, spec = analysis, bundle.spec
    parts = [f"<h1>How {html.escape(spec.title)} reads “{html.escape(image_name)}”</h1>",
             f"<p>Model {_code(provenance.model_name(spec, bundle.provenance))} ({spec.params:,} parameters; "
             f"{_md(provenance.training_note(spec, bundle.provenance))}) · weights: {html.escape(bundle.source)} · made "
             f"{_dt.date.today().isoformat()} with vitviz.</p>",
             "<h2>The image the model sees" + (", and its prediction" if a.top_labels else
                                                " (it has no classifier: no prediction)") + "</h2>",
             _fig(home_views.seen_image(bundle, a, height=380))]
    not_sure = confidence.not_sure_line(a.logits)
    if a.top_labels:
        parts.append(_fig(home_views.prediction(bundle, a)))
        if not_sure:
            parts.append(f"<p><strong>{html.escape(not_sure)}</strong></p>")
    else:
        parts.append(f"<p>{_md(provenance.no_classifier_sentence(spec, bundle.provenance))}.</p>")
    for number, stage in enumerate(STAGES, 1):
        parts += [f"<h2>{number} · {html.escape(stage.title)}</h2>",
                  f"<p class='q'>{html.escape(stage.question)}</p><p>{_md(stage.answer_for(a.patch_size, bundle.provenance))}</p>",
                  *SECTIONS.get(stage.key, lambda _b, _a: [])(bundle, a)]
    parts.append("<h2>What the beginner's article says, checked</h2>")
    parts.append("<p>The article's own words, spelling and all ([sic] marks its spelling, … a cut).</p>")
    parts.append(_table([{"the article says": f"“{g.claim.quote}”", "verdict": g.verdict_label, "what is true": g.truth,
                          "shown on": (f"Home, the card {g.claim.where}" if g.claim.on_home
                          else f"{BY_KEY[g.claim.stage].title}, {g.claim.where}")
                          + (f"; live: {BY_KEY[g.claim.also].title}" if g.claim.also else "")}
                         for g in graded(bundle, a)]))
    if a.top_labels:
        parts += ["<h2>The prediction</h2>", "<p>" + ", ".join(
            f"{html.escape(short_label(label))}: {p:.1%}" for label, p in zip(a.top_labels, a.top_probs)) + "</p>"]
        if not_sure:
            parts.append(f"<p>{html.escape(not_sure)}</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>vitviz handout</title><style>{CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>")


def figure_count(page_html: str) -> int:
    """How many plotly figures a handout holds (for checks)."""
    return page_html.count('class="plotly-graph-div"')
