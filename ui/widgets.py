"""Shared widgets: the model picker's labels and the image sources (upload, sample gallery, camera)."""

from __future__ import annotations

import streamlit as st

from vitviz.inputs.decode import MAX_BYTES, UPLOAD_TYPES, ImageError, load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES, gallery
from vitviz.model import hub
from vitviz.model.zoo import get_spec

from . import session
from .context import Context

SAMPLE_WIDGET = "vitviz_sample"
PRIVACY = ("🔒 Your image stays on this server and is never written to disk: it is held in memory while you use it "
           "and in a size-limited cache that answers only someone who chooses the very same image; it is sent "
           "nowhere, and no other learner can browse it.")  # tests/app/test_privacy.py checks what it says


def model_label(key: str) -> str:
    s = get_spec(key)
    where = " · offline" if s.bundled else (" · your file" if s.weights_file else f" · {s.download_mb:.0f} MB")
    return f"{'Your own: ' if s.own else ''}{s.title} · {s.params / 1e6:.1f} M params" + where


def accept_upload(data: bytes, name: str, origin: str) -> bool:
    """Decode ``data`` and make it the chosen image; on failure keep the old one and say why."""
    try:
        image = load_image(data)
    except ImageError as exc:
        session.refuse_image(f"“{name}” was not used: {exc}")
        return False
    session.set_image(image, name, origin, data if origin != "sample" else None)
    return True


def _on_upload(widget_key: str, origin: str) -> None:
    f = st.session_state.get(widget_key)
    if f is not None:
        accept_upload(f.getvalue(), getattr(f, "name", origin), origin)


def _on_sample() -> None:
    key = st.session_state.get(SAMPLE_WIDGET)
    if key in SAMPLES:
        s = SAMPLES[key]
        accept_upload(s.data(), s.title, "sample")


def image_sources(shapes_first: bool) -> None:
    """Upload, sample gallery and camera. New input replaces the image only if it decodes.

    ``shapes_first``: list the generated shapes before the photos (the bundled model knows shapes only).
    """
    tab_up, tab_sample, tab_cam = st.tabs(["Upload a photo", "Sample gallery", "Camera"])
    with tab_up:
        st.file_uploader("Upload an image", type=UPLOAD_TYPES, key="vitviz_upload", on_change=_on_upload,
                         args=("vitviz_upload", "upload"),
                         help=f"JPEG, PNG, WebP, GIF, BMP or TIFF, up to {MAX_BYTES // 2**20} MB")
    with tab_sample:
        options = [s.key for s in gallery(shapes_first)]
        st.selectbox("Choose a sample", options, index=None, key=SAMPLE_WIDGET, on_change=_on_sample,
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
    st.caption(PRIVACY)
    error = st.session_state.get(session.K_IMAGE_ERROR)
    if error:
        st.error(error, icon="🚫")


def fallback_notice(ctx: Context) -> None:
    """Which model is shown instead of the one picked, why, and when the hub is asked again: one line (on a
    1280-px projector too), so that it never pushes the page out of the first screen."""
    f = ctx.fallback
    if f is None:
        return
    requested = ctx.bundle.requested.title if ctx.bundle.requested is not None else ctx.requested
    reason = ctx.bundle.fallback_reason or f.reason
    missing = f"{requested} is not on this computer and "  # implied by "runs instead of": said once, not twice
    why = reason[len(missing):] if reason.startswith(missing) else reason
    if hub.hub_offline():
        when = ""  # the reason already says offline mode is on: the hub is not asked
    elif f.retry_in_s > 0:
        when = f" The hub is asked again in {f.retry_in_s:.0f} s."
    else:
        when = " The hub is asked again on the next change."
    st.warning(f"**{ctx.bundle.spec.title}** runs instead of {requested}: {why}.{when}", icon="📡")
