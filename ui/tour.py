"""The guided tour: every stage page opens with its learner's question and a short true answer, and
ends with links to the previous and next stage (the image, model and patch live in the session, so
they travel along)."""

from __future__ import annotations

import streamlit as st

from vitviz.model.loading import Bundle

from . import context, widgets
from .context import Context
from vitviz.walkthrough import BY_KEY, HOME_PAGE, neighbours


def _shapes_first(bundle: Bundle) -> bool:
    return bundle.spec.labels == "shapes"


def open_stage(key: str) -> Context:
    """How every stage page starts: its headline and question from ``STAGES``, then the context — or,
    before any image is chosen, a friendly stop that offers the samples."""
    stage = BY_KEY[key]
    ctx = context.current()
    st.title(f"{stage.icon} {stage.headline}")
    st.markdown(f"#### ❓ {stage.question}")
    st.markdown(stage.answer_for(ctx.analysis.patch_size if ctx.analysis is not None else ctx.bundle.spec.patch_size,
                                 ctx.bundle.provenance))
    with st.expander("In depth"):
        st.markdown(stage.depth_for(ctx.bundle.provenance))
    widgets.fallback_notice(ctx)
    if ctx.analysis is None:
        st.info("No image chosen yet. Pick a sample below (or upload one on the home page) and this page "
                "will show what the model does with it.", icon="🖼️")
        widgets.image_sources(_shapes_first(ctx.bundle))
        st.page_link(HOME_PAGE, label="Go to the home page", icon="🏠")
        st.stop()
    return ctx


def close_stage(key: str) -> None:
    """Previous/next links at the bottom of a stage page (home before the first, home after the last)."""
    before, after = neighbours(key)
    st.divider()
    prev_col, next_col = st.columns(2)
    with prev_col:
        if before is not None:
            st.page_link(before.page, label=f"← {before.title}", icon=before.icon)
        else:
            st.page_link(HOME_PAGE, label="← Home: image and prediction", icon="🏠")
    with next_col:
        if after is not None:
            st.page_link(after.page, label=f"{after.title} →", icon=after.icon)
        else:
            st.page_link(HOME_PAGE, label="Back to the prediction →", icon="🏠")
