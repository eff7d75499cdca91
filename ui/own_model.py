"""The sidebar's "Your own model": a timm name with its pretrained tag, or a .safetensors file (uploaded, or in
``$VITVIZ_WEIGHTS_DIR``) with its timm architecture name. What it would load, and its size, is said before
anything is downloaded or loaded; the visitor then picks it, and it joins the model picker for this session.
A model the pages cannot show, a name timm does not know, a file that does not fit: one sentence, nothing loaded."""

from __future__ import annotations

import streamlit as st

from vitviz.model import own
from vitviz.model.zoo import ModelSpec

from . import caches, session

K_HOW = "vitviz_own_how"  # "name" or "file"
K_NAME = "vitviz_own_name"  # str: the timm name typed
K_ARCH = "vitviz_own_arch"  # str: the timm architecture of a file
K_UPLOAD = "vitviz_own_upload"  # the uploaded .safetensors file
K_DIR_FILE = "vitviz_own_dir_file"  # str: a file of $VITVIZ_WEIGHTS_DIR
K_KEPT = "vitviz_own_kept"  # (file_id, path) of the upload already kept (hashing it once, not on every rerun)
K_SPECS = "vitviz_own_specs"  # dict: (source, arch) -> spec or refusal sentence, so a rerun reads no file again
EXAMPLE = "deit3_small_patch16_224.fb_in22k_ft_in1k"


def budget() -> int:
    """Bytes this server holds for models (``VITVIZ_MODEL_CACHE_MB``): a model whose weights need more is refused."""
    return caches.MODELS.max_bytes


def _use(key: str) -> None:
    """Add ``key`` to this session's own models and pick it (a button's callback: before the picker is drawn)."""
    mine = st.session_state.setdefault(session.K_OWN, [])
    if key not in mine:
        mine.append(key)
    st.session_state[session.K_MODEL] = key


def _resolved(source: str, arch: str, make) -> ModelSpec | str:
    """``make()``'s spec, or its refusal sentence, once per (source, arch) in this session."""
    memo = st.session_state.setdefault(K_SPECS, {})
    if (source, arch) not in memo:
        try:
            memo[(source, arch)] = make()
        except own.OwnModelError as exc:
            memo[(source, arch)] = str(exc)
    return memo[(source, arch)]


def _offer(found: ModelSpec | str) -> None:
    """The size of what would be loaded and the button that picks it, or the sentence that refuses it."""
    if isinstance(found, str):
        st.error(found, icon="🚫")
        return
    st.caption(f"**{found.title}**: {own.size_sentence(found)}")
    st.button("Use this model", key=f"vitviz_own_use_{found.key}", on_click=_use, args=(found.key,), type="primary")


def _kept_upload() -> str | None:
    """The uploaded file kept on this server (once per upload), or None."""
    f = st.session_state.get(K_UPLOAD)
    if f is None:
        return None
    kept = st.session_state.get(K_KEPT)
    if not kept or kept[0] != f.file_id:
        kept = (f.file_id, str(own.keep_upload(f.getvalue(), f.name)))
        st.session_state[K_KEPT] = kept
    return kept[1]


def own_model_entry() -> None:
    """The sidebar's expander: by timm name, or from a file."""
    with st.expander("Your own model"):
        how = st.radio("From", ("name", "file"), key=K_HOW, horizontal=True,
                       format_func=lambda h: "a timm name" if h == "name" else "a .safetensors file",
                       help="Any timm Vision Transformer: DeiT-III, DINOv2 with registers, a CLIP or SigLIP image "
                            "tower, FlexiViT, or a checkpoint of your own.")
        if how == "name":
            name = st.text_input("timm name with its pretrained tag", key=K_NAME, placeholder=EXAMPLE,
                                 help="`arch.tag`, as `timm.list_pretrained()` lists them; the weights come from the "
                                      "Hugging Face hub (timm/arch.tag).").strip()
            if name:
                _offer(_resolved(name, "", lambda: own.spec_for_name(name, budget())))
            return
        files = own.weights_dir_files()
        st.file_uploader("Upload a .safetensors file", type=["safetensors"], key=K_UPLOAD,
                         max_upload_size=max(1, budget() // 2**20),
                         help="The model's state_dict() saved with safetensors (no pickle files are read).")
        path = _kept_upload()
        if path is None and files:
            chosen = st.selectbox(f"or one in ${own.WEIGHTS_DIR_ENV}", [str(p) for p in files], index=None,
                                  key=K_DIR_FILE, format_func=lambda p: p.rsplit("/", 1)[-1],
                                  placeholder="Pick a file…")
            path = chosen
        arch = st.text_input("Its timm architecture", key=K_ARCH, placeholder="vit_small_patch16_224",
                             help="The timm name without a tag: the file brings the weights, and its own tensor "
                                  "shapes decide the patch size, the input size and the classes.").strip()
        if path and arch:
            shown = st.session_state[K_UPLOAD].name if st.session_state.get(K_UPLOAD) is not None else None
            _offer(_resolved(path, arch, lambda: own.spec_for_file(path, arch, budget(), shown)))
