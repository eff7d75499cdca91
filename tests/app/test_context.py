"""The context pages read: one identity for every cache, figures and experiments computed once per identity."""

import numpy as np
from PIL import Image

from ui import caches
from ui.context import Context
from ui.session import ChosenImage
from vitviz.model.analysis import image_hash
from vitviz.views import attention as attention_views


def _context(bundle, image: Image.Image) -> Context:
    chosen = ChosenImage(image, "test.png", "upload", image_hash(image))
    return Context(bundle.spec.key, bundle, None, chosen, caches.analysis_of(bundle, image, chosen.digest))


def test_keys_carry_the_model_actually_loaded_and_the_image(shapes_bundle, photo):
    ctx = _context(shapes_bundle, photo)
    key = ctx.key("shuffle", 3)
    assert key[0] == shapes_bundle.identity and key[1] == ctx.image.digest and key[2:] == ("shuffle", 3)
    other = _context(shapes_bundle, photo.rotate(90))
    assert other.key("shuffle", 3) != key  # another image, another key


def test_the_analysis_is_cached_under_the_model_identity(shapes_bundle, photo):
    first = caches.analysis_of(shapes_bundle, photo)
    calls = shapes_bundle.forward_calls
    assert caches.analysis_of(shapes_bundle, photo) is first
    assert shapes_bundle.forward_calls == calls
    assert (shapes_bundle.identity, image_hash(photo)) in caches.ANALYSES._items


def test_figures_are_built_once_per_identity_and_setting(shapes_bundle, photo):
    ctx = _context(shapes_bundle, photo)
    fig = ctx.figure(attention_views.cls_map, 1, None, 0.5, 3)
    assert ctx.figure(attention_views.cls_map, 1, None, 0.5, 3) is fig
    assert ctx.figure(attention_views.cls_map, 1, None, 0.5, 4) is not fig  # another patch, another figure
    assert "block 2" in fig.layout_value("title")["text"]  # kept in the form the browser receives


def test_a_derived_value_is_built_once_per_identity_and_settings(shapes_bundle, photo):
    ctx = _context(shapes_bundle, photo)
    builds = []
    first = ctx.built("test_value", 1, build=lambda: builds.append(1) or {"n": len(builds)})
    assert ctx.built("test_value", 1, build=lambda: builds.append(1) or {"n": len(builds)}) is first
    assert ctx.built("test_value", 2, build=lambda: builds.append(1) or {"n": len(builds)})["n"] == 2
    assert len(builds) == 2


def test_the_models_own_work_runs_once_per_model_whatever_the_image(shapes_bundle, photo):
    first, second = _context(shapes_bundle, photo), _context(shapes_bundle, photo.rotate(90))
    builds = []
    value = first.built("test_model_fact", 7, per_image=False, build=lambda: builds.append(1) or {"n": len(builds)})
    assert second.built("test_model_fact", 7, per_image=False, build=lambda: builds.append(1) or {}) is value
    for key in [k for k in list(caches.BUILT._items) if "test_model_fact" in k]:  # pushed out by a class's figures
        caches.BUILT._items.pop(key)
    assert first.built("test_model_fact", 7, per_image=False, build=lambda: builds.append(1) or {}) is value
    assert len(builds) == 1
    calls = []
    from vitviz.views import vectors as vector_views

    def counted(bundle, a):  # the projection filters' PCA: a figure of the model alone
        calls.append(a)
        return vector_views.filters(bundle, a)
    counted.__module__, counted.__qualname__ = "test", "counted_model_figure"
    fig = first.figure(counted, per_image=False)
    assert second.figure(counted, per_image=False) is fig and len(calls) == 1


def test_experiments_run_once_per_identity_and_setting(shapes_bundle, photo):
    ctx = _context(shapes_bundle, photo)
    runs = []

    def run():
        runs.append(1)
        return np.arange(3)

    a = ctx.experiment("counting", 1, run=run, label="…")
    b = ctx.experiment("counting", 1, run=run, label="…")
    ctx.experiment("counting", 2, run=run, label="…")
    assert a is b and len(runs) == 2


def test_selected_patch_defaults_to_the_centre(shapes_bundle, photo):
    ctx = _context(shapes_bundle, photo)
    rows, cols = ctx.analysis.grid
    assert ctx.patch == (rows // 2) * cols + cols // 2
