"""Figures of the Inside-a-block stage. Each takes (bundle, analysis, *settings); the float32 recompute
(``Stream``, ``BlockTrace``), cached by the page per model, image and layer, is passed as a setting."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vitviz.figures.diagram import Box, flow_diagram
from vitviz.figures.images import heatmap_overlay
from vitviz.figures.prediction import short_label
from vitviz.figures.steps import Panel, attention_matrix, depth_lines, token_bars, vector_panels
from vitviz.figures.style import HIGHLIGHT
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import attention, block
from vitviz.stages.block import BlockTrace, Stream


def _tok(a: Analysis, token: int) -> str:
    return a.token_name(token)


def diagram(bundle: Bundle, a: Analysis, selected: str | None = None) -> go.Figure:
    """The block with this model's sizes; click a step to open it."""
    blk = bundle.model.blocks[0]
    t, d, h = a.num_tokens, a.embed_dim, a.heads
    hd, hidden = blk.attn.head_dim, blk.mlp.fc1.out_features
    size = f"{t} × {d}"
    boxes = [
        Box("", f"<b>tokens in</b>  {size}", width=0.7),
        Box("norm1", "<b>LayerNorm</b>  per token", block.BY_STEP["norm1"].explain),
        Box("attn", f"<b>Multi-head attention</b>  {h} heads of {hd}", block.BY_STEP["attn"].explain),
        Box("add1", "<b>+</b>  add", block.BY_STEP["add1"].explain, width=0.45),
        Box("norm2", "<b>LayerNorm</b>  per token", block.BY_STEP["norm2"].explain),
        Box("mlp", f"<b>MLP</b>  {d}→{hidden}, GELU, {hidden}→{d}", block.BY_STEP["mlp"].explain),
        Box("add2", "<b>+</b>  add", block.BY_STEP["add2"].explain, width=0.45),
        Box("", f"<b>tokens out</b>  {size}", width=0.7),
    ]
    return flow_diagram(boxes, skips=[(1, 3), (4, 6)], selected=selected,
                        title=f"One block of {bundle.spec.title}<br><sup>{a.depth} such blocks, one after another · "
                              f"click a step</sup><br><sup>{t} tokens × {d} numbers in and out</sup>", title_px=100)


def norm(bundle: Bundle, a: Analysis, trace: BlockTrace, token: int, which: str = "norm1") -> go.Figure:
    """A LayerNorm on one token: before, normalised, and after the learned scale γ and shift β."""
    n = block.layer_norm(bundle, trace, token, which)
    where = "before attention" if which == "norm1" else "before the MLP"
    return vector_panels([
        Panel(f"{_tok(a, token)} entering the LayerNorm: mean {n.mean_before:.3f}, spread {n.std_before:.3f}",
              n.before),
        Panel("(x − mean) / spread: mean 0, spread 1", n.normalised),
        Panel(f"× γ + β: the LayerNorm's output (mean {n.after.mean():.3f}, spread {n.after.std():.3f})", n.after),
        Panel("the learned scale γ (bars) and shift β (crosses)", n.weight, overlay=n.bias, names=("γ", "β")),
    ], title=f"LayerNorm {where}, block {trace.layer + 1}, {_tok(a, token)}")


def query_keys(_bundle: Bundle, a: Analysis, trace: BlockTrace, head: int, token: int) -> go.Figure:
    """The query of ``token`` and the keys of the tokens it scores highest, dimension by dimension."""
    step = block.query_step(trace, a, head, token)
    top = block.top_keys(step)
    panels = [Panel(f"q of {_tok(a, token)} (head {head}, {trace.head_dim} numbers)", step.q, x_title="")]
    panels += [Panel(f"k of {_tok(a, int(j))}: q·k/√{trace.head_dim} = {step.scores[j]:.3f}", trace.k[head, j],
                     colour=HIGHLIGHT, x_title="dimension" if i == len(top) - 1 else "") for i, j in enumerate(top)]
    return vector_panels(panels, height=120 + 150 * len(panels),
                         title=f"The query and the keys it matches best, head {head}, block {trace.layer + 1}")


def scores(_bundle: Bundle, a: Analysis, trace: BlockTrace, head: int, token: int) -> go.Figure:
    """q·kⱼ/√d for every token j."""
    step = block.query_step(trace, a, head, token)
    marked = {int(j): f"top {i + 1}" for i, j in enumerate(block.top_keys(step))}
    return token_bars(step.scores, a.prefix_names, marked, y_title="score",
                      title=f"Scores of {_tok(a, token)} with every token: q·kⱼ / √{trace.head_dim}, head {head}")


def row_on_image(_bundle: Bundle, a: Analysis, trace: BlockTrace, head: int, token: int,
                 temperature: float = 1.0) -> go.Figure:
    """softmax(scores / temperature) over the patches, on the image (click a patch to make it the query)."""
    step = block.query_step(trace, a, head, token, temperature)
    row = step.row_t
    n0 = a.num_prefix
    what = "the attention row" if temperature == 1.0 else f"what-if: temperature {temperature:g}"
    return heatmap_overlay(a.image, row[n0:].reshape(a.grid), a.patch_size, 0.65,
                           selected=token - n0 if token >= n0 else None, height=420, colorbar_title="weight",
                           title=f"softmax: {what}, {_tok(a, token)}, head {head}"
                                 + (f" ({' + '.join(a.prefix_names) if n0 < 3 else f'the {n0} prefix tokens'} get "
                                    f"{float(row[:n0].sum()):.3f})" if n0 else "") + "<br>"
                                 + attention.spread(row[n0:], a.num_tokens).sentence())


def head_output(_bundle: Bundle, a: Analysis, trace: BlockTrace, head: int, token: int,
                temperature: float = 1.0) -> go.Figure:
    """Σⱼ aⱼvⱼ for this head, all heads side by side, and after the output projection."""
    step = block.query_step(trace, a, head, token, temperature)
    concat = trace.heads_out[:, token].reshape(-1)  # [H·d]
    panels = [Panel(f"Σⱼ aⱼ vⱼ: head {head}'s output for {_tok(a, token)} ({trace.head_dim} numbers)", step.out,
                    overlay=step.out_t if temperature != 1.0 else None,
                    names=("temperature 1", f"temperature {temperature:g} (what-if)") if temperature != 1.0
                    else ("", "")),
              Panel(f"all {trace.heads} heads' outputs side by side ({concat.size} numbers)", concat,
                    boundaries=trace.head_dim),
              Panel(f"× the output projection (proj): what attention adds to the token ({a.embed_dim} numbers)",
                    trace.attn_out[token])]
    return vector_panels(panels, title=f"Mixing the values, block {trace.layer + 1}")


def residual_add(_bundle: Bundle, a: Analysis, trace: BlockTrace, token: int, which: str = "add1") -> go.Figure:
    """The residual add: the token, what attention or the MLP adds, and the sum."""
    if which == "add1":
        before, update, after, name = trace.x[token], trace.attn_out[token], trace.mid[token], "attention"
    else:
        before, update, after, name = trace.mid[token], trace.mlp_out[token], trace.out[token], "the MLP"
    ratio = np.linalg.norm(update) / max(np.linalg.norm(before), 1e-12)
    return vector_panels([
        Panel(f"{_tok(a, token)} before (‖x‖ = {np.linalg.norm(before):.2f})", before),
        Panel(f"what {name} adds (‖·‖ = {np.linalg.norm(update):.2f}, {ratio:.0%} of the token's length)", update,
              colour=HIGHLIGHT),
        Panel("the sum: " + ("the MLP's input, before its LayerNorm" if which == "add1" else
                             f"the block's output, block {trace.layer + 2}'s input" if trace.layer + 1 < a.depth
                             else "the last block's output"), after),
    ], title=f"Add (residual), block {trace.layer + 1}")


def mlp(bundle: Bundle, a: Analysis, trace: BlockTrace, token: int) -> go.Figure:
    """fc1 -> GELU -> fc2 on one token."""
    m = block.mlp_step(bundle, trace, token)
    return vector_panels([
        Panel(f"fc1: {m.pre.size} hidden units, h = W₁·x̂ + b₁", m.pre, x_title="hidden unit"),
        Panel(f"GELU(h): {m.firing} of {m.pre.size} units fire (output > 0)", m.act, colour=HIGHLIGHT,
              x_title="hidden unit"),
        Panel(f"fc2: back to {a.embed_dim} numbers, what the MLP adds to the token", m.out),
    ], title=f"The MLP on {_tok(a, token)} alone, block {trace.layer + 1}")


def matrix(_bundle: Bundle, a: Analysis, layer: int, head: int, token: int) -> go.Figure:
    """The whole T × T attention matrix of one head (captured), the query's row outlined; the title says uniform
    (1/T) and the largest weight against it, of the matrix and of the query's row (the colour cap alone cannot)."""
    m = a.attentions[layer, head]  # [T, T]
    whole, row = attention.spread(m, a.num_tokens), attention.spread(m[token], a.num_tokens)
    return attention_matrix(m, a.prefix_names, token, height=600,
                            title=f"Every query's row: block {layer + 1}, head {head} ({a.num_tokens} × "
                                  f"{a.num_tokens}; colour capped at the 99.5th percentile)<br>{whole.sentence()} "
                                  f"(the outlined row's largest: {row.ratio_text})")


def lens(bundle: Bundle, a: Analysis, stream: Stream) -> go.Figure:
    """The logit lens: the final prediction's probability (or the similarity to the final state) across depth."""
    ln = block.logit_lens(stream, a)
    labels = ["input"] + [f"block {i}" for i in range(1, stream.depth + 1)]
    if ln.has_classifier:
        name = short_label(bundle.labels[ln.final_class])
        top1 = [short_label(bundle.labels[t[0][0]]) for t in ln.top]
        fig = depth_lines(np.stack([ln.final_prob, [t[0][1] for t in ln.top]]),
                          [f"P(“{name}”), the final prediction", "P(top-1 at that depth)"], x_labels=labels,
                          y_title="probability", y_range=(0, 1.02),
                          title=f"The logit lens: {block.head_reads(bundle.model)} after each block through the "
                                "final norm and the head")
        fig.data[1].update(text=top1, hovertemplate="%{x}: %{text} %{y:.3f}<extra></extra>", line=dict(dash="dot"))
        return fig
    return depth_lines(ln.similarity[None], ["cosine with the final features"], x_labels=labels,
                       y_title="cosine similarity", y_range=(-1.02, 1.02),
                       title=f"No classifier: how close {block.head_reads(bundle.model)} (after the final norm) is "
                             "to its final state")


def updates(_bundle: Bundle, a: Analysis, stream: Stream, token: int) -> go.Figure:
    """‖update‖ / ‖token‖ per block, for the first token (CLS when there is one) and the chosen token."""
    rows, names = [block.update_sizes(stream, 0)], [_tok(a, 0)]
    if token != 0:
        rows.append(block.update_sizes(stream, token))
        names.append(_tok(a, token))
    return depth_lines(np.stack(rows), names, x_labels=[f"block {i}" for i in range(1, stream.depth + 1)],
                       x_title="", y_title="‖update‖ / ‖token‖",
                       title="The residual stream: how much each block changes the token")
