"""The frame around every page, drawn once per run by ``streamlit_app.py``: the navigation, the shared
sidebar (presenter switch, model picker, number format, the chosen image, the selected patch, the device and weights
actually used), the model and the analysis. It hands the page one ``Context``.

In a class (``ui.classroom``), a follower's run first takes the teacher's model, number format, image and page into
those same keys, and a teacher's run publishes them; the class's line and join panel sit above the page.

The sidebar's widgets are plain keyed widgets (``ui.session``): drawn on every run, they keep their
values across pages without being copied anywhere, as Streamlit recommends for ``st.navigation``.
"""

from __future__ import annotations

import streamlit as st

from vitviz import wording
from vitviz.model import hub, precision, provenance
from vitviz.model.loading import Bundle
from vitviz.model.zoo import DEFAULT_KEY, ZOO, get_spec

from . import caches, classroom, phone, presenter, session, widgets
from .own_model import own_model_entry
from .context import Context, publish, show_place
from .precision import precision_line
from vitviz.walkthrough import HOME_PAGE, STAGES


def navigation() -> st.navigation:
    return st.navigation([st.Page(HOME_PAGE, title="Home", icon="🏠", default=True)]
                         + [st.Page(s.page, title=s.title, icon=s.icon, url_path=s.key) for s in STAGES])


def _known(key: str) -> bool:
    try:
        get_spec(key)
    except (KeyError, ValueError):  # a name timm does not know, or a file's key from another server process
        return False
    return True


def _model_picker() -> str:
    """The zoo, then this session's own models (``ui.own_model``)."""
    zoo = [s.key for s in ZOO]
    keys = zoo + [k for k in dict.fromkeys(st.session_state.get(session.K_OWN, [])) if k not in zoo and _known(k)]
    if st.session_state.get(session.K_MODEL) not in keys:
        requested = st.session_state.get(session.K_MODEL)
        if isinstance(requested, str) and requested not in keys and _known(requested):  # set from outside (a test, a link)
            keys.append(requested)
            st.session_state.setdefault(session.K_OWN, []).append(requested)
        else:
            st.session_state[session.K_MODEL] = DEFAULT_KEY
    return st.selectbox("Model", keys, key=session.K_MODEL, format_func=widgets.model_label,
                        help="Every model here is a real Vision Transformer; the bundled one works offline. "
                             "“Your own model” below adds any timm ViT by name or file.")


def _precision_picker() -> str:
    """The number format the model runs in; formats this machine cannot run are listed with the reason."""
    reasons = precision.offered(caches.MODELS.device)
    keys = [k for k, why in reasons.items() if why is None]
    if st.session_state.get(session.K_PRECISION) not in keys:
        st.session_state[session.K_PRECISION] = precision.DEFAULT
    chosen = st.selectbox("Number format", keys, key=session.K_PRECISION,
                          format_func=lambda k: precision.PRECISIONS[k].title,
                          help="Store and run the same model in fewer bits; every page then shows it in that format, "
                               "and Bits & memory compares it with fp32. " + " ".join(
                                   f"{p.key}: {p.what}" for p in precision.PRECISIONS.values() if p.key in keys))
    missing = {k: why for k, why in reasons.items() if why is not None}
    if missing:
        st.caption("Not offered here: " + "; ".join(f"{k} ({why})" for k, why in missing.items()))
    return chosen


def _load(key: str, number_format: str = precision.DEFAULT) -> Bundle:
    """The model for ``key`` in ``number_format``; a first load (or download) shows its progress in the main area,
    where people look."""
    ready = caches.MODELS.peek(key, number_format)
    if ready is not None:
        return ready
    spec = get_spec(key)
    bar = st.progress(0.0, text=f"Loading {spec.title}…")

    def progress(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Downloading {spec.title}: {done / 1e6:.0f} / {total / 1e6:.0f} MB")

    with st.spinner(f"Loading {spec.title}…"):
        bundle = caches.MODELS.get(key, progress)
    if number_format != precision.DEFAULT:
        with st.spinner(f"Converting {bundle.spec.title} to {number_format}…"):
            bundle = caches.MODELS.get(key, precision=number_format)
    bar.empty()
    return bundle


def _patch_picker(num_patches: int, grid: tuple[int, int]) -> None:
    """The selected patch's one home: a number input (chart clicks write the same key)."""
    current = st.session_state.get(session.K_PATCH)
    if not isinstance(current, int) or not 0 <= current < num_patches:  # a new model with a smaller grid
        st.session_state[session.K_PATCH] = session.centre_patch(num_patches, grid)
    index = st.number_input(f"Selected patch (0 … {num_patches - 1}; or click one on a map)", min_value=0,
                            max_value=num_patches - 1, step=1, key=session.K_PATCH)
    st.caption(f"Patch {int(index)}: {wording.patch_place(index, grid)} (counting from 0 at the top left)")


def run() -> None:
    """Draw the frame and run the chosen page."""
    st.set_page_config(page_icon="🔬", layout="wide")
    page = navigation()
    classroom.arrive(page)  # a join link; a follower takes the teacher's model, format, image and page
    with st.sidebar:
        st.toggle("Presenter mode", key=session.K_PRESENTER, on_change=presenter.switched,
                  help="Large type and figures for a projector, the sidebar folded away (the arrow at the top "
                       "left opens it again); nothing is hidden.")
        requested = _model_picker()
        own_model_entry()
        number_format = _precision_picker()
        running = st.container()  # what actually runs, filled in once the model is loaded
        chosen = session.chosen_image()
        if chosen is not None:
            st.image(chosen.preview, caption=f"{chosen.name} ({chosen.image.width}×{chosen.image.height})",
                     width="stretch")
        status = st.container()
    classroom.publish(page)  # a teacher's class copies this run's choices (its followers are woken at the run's end)
    presenter.apply()
    phone.phone_css()
    fp32 = _load(requested)
    refused = precision.unavailable(number_format, fp32.device, fp32.model)
    bundle = fp32 if refused else _load(requested, number_format)
    analysis = None
    if chosen is not None:
        waiting = st.empty()
        with st.spinner("Running the model once on this image…"):
            analysis = caches.analysis_of(bundle, chosen.image, chosen.digest,
                                          on_wait=lambda place: show_place(waiting, place, "image"))
        waiting.empty()
    classroom.take_shown(analysis)  # a follower: the patch, block and head the teacher showed everyone
    ctx = Context(requested, bundle, caches.MODELS.fallback_state(requested) if bundle.fell_back else None,
                  chosen, analysis, fp32)
    with running:
        if bundle.fell_back:
            st.markdown(f"Running instead: **{bundle.spec.title}**")
        if refused:
            st.warning(f"{number_format} cannot run {bundle.spec.title} here: {refused}. Running fp32.")
        st.caption(provenance.training_note(bundle.spec, bundle.provenance))
    with status:
        if analysis is not None:
            _patch_picker(analysis.num_patches, analysis.grid)
        st.caption(f"Running on **{bundle.device.type.upper()}** · weights: {bundle.source}",
                   help="CPU: the computer's main processor. CUDA: an NVIDIA graphics card (GPU), used when "
                        "present, which runs the same multiply-adds many at a time.")
        if ctx.fallback is not None and not hub.hub_offline():
            st.button("Try the model hub again", key="vitviz_retry_hub", on_click=caches.MODELS.retry_now,
                      help="Forget the failed attempt and ask the hub again now (a dead network costs ~4 s).")
    presenter.what_runs(bundle)  # the sidebar is folded on a projector: which weights run stays in view
    classroom.start_button()
    classroom.bar()
    if ctx.precision != precision.DEFAULT and analysis is not None:
        precision_line(ctx)
    publish(ctx)
    waiting = st.empty()  # the place in line while other pages are being drawn (ui/caches.py, PAGES)
    wake_class = classroom.wake_after_page()  # a teacher's run: the class follows once the teacher's page is drawn
    try:
        caches.PAGES.run(object(), page.run, on_wait=lambda place: show_place(waiting, place, "page"))
    finally:
        wake_class()
