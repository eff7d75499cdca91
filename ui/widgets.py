"""Shared widgets: page set-up, the sidebar (model and image), image sources, the current analysis."""

from __future__ import annotations

import streamlit as st

from vitviz.model.analysis import Analysis
from vitviz.inputs.decode import MAX_BYTES, ImageError, load_image
from vitviz.model.loading import Bundle
from vitviz.inputs.samples import BY_KEY as SAMPLES, gallery
from vitviz.model.zoo import BY_KEY as SPECS, ZOO

from . import interact, loaders, session
from .session import ChosenImage
from .stages import STAGES, home_page
from .tour import page_intro

_MODEL_WIDGET = "vitviz_model_widget"
_SAMPLE_WIDGET = "vitviz_sample_widget"


def setup_page(title: str, icon: str = "🔬") -> Bundle:
    """Every page starts here: wide layout, the shared sidebar, presenter mode; returns the loaded model."""
    st.set_page_config(page_title=f"{title} · vitviz", page_icon=icon, layout="wide")
    status = sidebar()
    interact.presenter_css()
    bundle = load_bundle()  # in the main area, so a first download shows its progress bar where people look
    status.caption(f"Running on **{bundle.device.type.upper()}** · weights: {bundle.source}")
    return bundle


def _model_label(key: str) -> str:
    s = SPECS[key]
    return f"{s.title} · {s.params / 1e6:.1f} M params" + (" · offline" if s.bundled else f" · {s.download_mb:.0f} MB")


def model_picker(container=st) -> None:
    """Pick a zoo model; the choice is kept across pages in ``session.K_MODEL``."""
    keys = [s.key for s in ZOO]
    st.session_state[_MODEL_WIDGET] = session.model_key()
    container.selectbox("Model", keys, key=_MODEL_WIDGET, format_func=_model_label,
                        on_change=lambda: session.set_model_key(st.session_state[_MODEL_WIDGET]),
                        help="Every model here is a real Vision Transformer; the bundled one works offline.")
    container.caption(SPECS[session.model_key()].note)


def sidebar():
    """Presenter switch, model picker, the chosen image; returns a slot for the device and weights line."""
    with st.sidebar:
        st.session_state["vitviz_presenter_widget"] = session.presenter()
        st.toggle("Presenter mode", key="vitviz_presenter_widget",
                  on_change=lambda: st.session_state.update(
                      {session.K_PRESENTER: st.session_state["vitviz_presenter_widget"]}),
                  help="Large type and figures for a projector; details folded away.")
        model_picker()
        chosen = session.chosen_image()
        if chosen is not None:
            st.image(chosen.image, caption=f"{chosen.name} ({chosen.image.width}×{chosen.image.height})",
                     width="stretch")
        return st.empty()


def accept_upload(data: bytes, name: str, origin: str) -> bool:
    """Decode ``data`` and make it the chosen image; on failure keep the old one and say why."""
    try:
        image = load_image(data)
    except ImageError as exc:
        st.session_state[session.K_IMAGE_ERROR] = f"“{name}” was not used: {exc}"
        return False
    session.set_image(image, name, origin)
    return True


def _on_upload(widget_key: str, origin: str) -> None:
    f = st.session_state.get(widget_key)
    if f is not None:
        accept_upload(f.getvalue(), getattr(f, "name", origin), origin)


def _on_sample() -> None:
    key = st.session_state.get(_SAMPLE_WIDGET)
    if key in SAMPLES:
        s = SAMPLES[key]
        accept_upload(s.data(), s.title, "sample")


def image_sources() -> None:
    """Upload, camera and sample gallery. New input replaces the image only if it decodes."""
    tab_up, tab_sample, tab_cam = st.tabs(["Upload a photo", "Sample gallery", "Camera"])
    with tab_up:
        st.file_uploader("Upload an image", key="vitviz_upload", on_change=_on_upload,
                         args=("vitviz_upload", "upload"),
                         help=f"JPEG, PNG, WebP, GIF, BMP or TIFF, up to {MAX_BYTES // 2**20} MB")
    with tab_sample:
        shapes_first = SPECS[session.model_key()].labels == "shapes"
        options = [s.key for s in gallery(shapes_first)]
        st.selectbox("Choose a sample", options, index=None, key=_SAMPLE_WIDGET, on_change=_on_sample,
                     format_func=lambda k: SAMPLES[k].title, placeholder="Pick a sample image…")
        chosen = session.chosen_image()
        sample = next((s for s in SAMPLES.values() if chosen and chosen.origin == "sample"
                       and s.title == chosen.name), None)
        if sample is not None:
            st.caption(f"Source: {sample.credit} · licence: {sample.licence}")
    with tab_cam:
        if st.toggle("Use the camera", key="vitviz_camera_on"):
            st.camera_input("Take a photo", key="vitviz_camera", on_change=_on_upload,
                            args=("vitviz_camera", "camera"))
    error = st.session_state.get(session.K_IMAGE_ERROR)
    if error:
        st.error(error, icon="🚫")


def load_bundle() -> Bundle:
    """The chosen model, loading (and downloading, with a progress bar) on first use."""
    key = session.model_key()
    cached = loaders.cached_bundle(key)
    if cached is not None:
        return cached
    spec = SPECS[key]
    bar = st.progress(0.0, text=f"Loading {spec.title}…")

    def progress(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Downloading {spec.title}: {done / 1e6:.0f} / {total / 1e6:.0f} MB")

    with st.spinner(f"Loading {spec.title}…"):
        bundle = loaders.get_bundle(key, progress)
    bar.empty()
    return bundle


def fallback_notice(bundle: Bundle) -> None:
    if bundle.fell_back:
        st.warning(f"{bundle.fallback_reason}. Showing the bundled **{bundle.spec.title}** instead: it is a real "
                   "ViT trained on shapes, so pick one of its shape samples for the clearest pictures.", icon="📡")


def current_analysis(show_notice: bool = True) -> tuple[Bundle, Analysis] | None:
    """(bundle, analysis) for the chosen model and image, or None when no image is chosen yet."""
    chosen = session.chosen_image()
    bundle = load_bundle()
    if show_notice:
        fallback_notice(bundle)
    if chosen is None:
        return None
    with st.spinner("Running the model once on this image…"):
        analysis = loaders.get_analysis(bundle, chosen.image, chosen.digest)
    return bundle, analysis


def open_stage(key: str, headline: str) -> tuple[Bundle, Analysis, ChosenImage]:
    """How every stage page starts: its title and icon from ``STAGES``, the learner's question, then
    the model, the analysis and the chosen image (or a friendly stop that offers the samples)."""
    stage = next(s for s in STAGES if s.key == key)
    setup_page(stage.title, stage.icon)
    st.title(f"{stage.icon} {headline}")
    page_intro(key)
    bundle, analysis = require_analysis()
    return bundle, analysis, session.chosen_image()


def require_analysis() -> tuple[Bundle, Analysis]:
    """For stage pages: the analysis, or a friendly stop that offers the samples."""
    result = current_analysis()
    if result is None:
        st.info("No image chosen yet. Pick a sample below (or upload one on the home page) and this page "
                "will show what the model does with it.", icon="🖼️")
        image_sources()
        st.page_link(home_page(), label="Go to the home page", icon="🏠")
        st.stop()
    return result
