"""The zoo and the weight sources: local file, local cache, hub (real download path on a local stand-in),
and the fallback to the bundled model when the hub is dead or silent — each within 10 s."""

import hashlib
import os
import socket
import ssl
import time

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save, save_file

from tests.fakehub import COMMIT, FakeHub, count_probes, free_port
from vitviz.model import hub, provenance
from vitviz.model.loading import ModelIdentity, build_arguments, choose_device, cpu_threads, load_model
from vitviz.model.zoo import ZOO, get_spec

TI = get_spec("vit_ti16")


@pytest.mark.parametrize("spec", ZOO, ids=lambda s: s.key)
def test_zoo_parameter_counts_match_timm(spec):
    """At the size the app builds each model (DINOv2's architecture defaults to 518 px, the zoo runs it at 224)."""
    with torch.device("meta"):
        model = timm.create_model(spec.timm_name, pretrained=False, **build_arguments(spec))
    assert sum(p.numel() for p in model.parameters()) == spec.params
    assert model.num_prefix_tokens == spec.prefix_tokens and spec.tokens == model.patch_embed.num_patches + \
        model.num_prefix_tokens
    assert model.patch_embed.patch_size[0] == spec.patch_size
    assert model.patch_embed.img_size[0] == spec.resolution
    assert spec.has_classifier == (model.num_classes > 0)


def test_a_model_is_built_at_its_specs_size_with_that_input_size(monkeypatch):
    """DINOv2's pretrained config says 518 px; the zoo runs it at 224, and the data config says what the model reads."""
    spec = get_spec("dinov2_s14")
    b = load_model(spec, device="cpu", pretrained=False)
    assert tuple(b.model.patch_embed.img_size) == (224, 224) and b.data_config["input_size"] == (3, 224, 224)
    assert timm.create_model(spec.arch, pretrained=False).pretrained_cfg["input_size"] == (3, 518, 518)
    assert not b.labels and b.spec.params == sum(p.numel() for p in b.model.parameters())


def test_published_counts():
    published = {"vit_ti16": 5_717_416, "vit_s16": 22_050_664, "vit_b16": 86_567_656, "vit_b32": 88_224_232}
    for key, n in published.items():
        assert get_spec(key).params == n


def test_device_and_threads():
    assert choose_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert cpu_threads() >= 1


@pytest.fixture
def ti_weights(tmp_path):
    torch.manual_seed(1)
    model = timm.create_model(TI.timm_name, pretrained=False)
    path = tmp_path / "vit_ti16.safetensors"
    save_file(model.state_dict(), str(path))
    return model.state_dict(), path


def _same_weights(bundle, state):
    own = bundle.model.state_dict()
    return all(torch.equal(own[k].cpu(), v) for k, v in state.items())


def test_explicit_local_file(ti_weights):
    state, path = ti_weights
    b = load_model("vit_ti16", weights=path)
    assert b.spec.key == "vit_ti16" and not b.fell_back
    assert "local file" in b.source and b.provenance.origin == provenance.LOCAL_FILE
    assert _same_weights(b, state)
    assert not b.model.training
    assert len(b.labels) == 1000 and "tench" in b.labels[0]


def test_weights_dir_env(ti_weights, monkeypatch):
    state, path = ti_weights
    monkeypatch.setenv("VITVIZ_WEIGHTS_DIR", str(path.parent))
    b = load_model("vit_ti16")
    assert "VITVIZ_WEIGHTS_DIR" in b.source and _same_weights(b, state)
    assert b.provenance.unknown and not b.provenance.trained_as_documented  # the user's file, not the published one


def test_pickle_files_are_refused(tmp_path):
    bad = tmp_path / "model.pth"
    bad.write_bytes(b"not even a pickle")
    with pytest.raises(ValueError, match="safetensors"):
        load_model("vit_ti16", weights=bad)


def _fill_cache(cache, repo, data: bytes, etag: str | None = None):
    """The Hugging Face cache layout: refs/main -> snapshot whose file links to a blob named by its etag
    (the sha256 of the real file; ``data`` may be a damaged copy of it)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    for sub in ("refs", "blobs", f"snapshots/{COMMIT}"):
        (folder / sub).mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    blob = folder / "blobs" / (etag or hashlib.sha256(data).hexdigest())
    blob.write_bytes(data)
    (folder / "snapshots" / COMMIT / "model.safetensors").symlink_to(os.path.relpath(blob, folder / "snapshots" / COMMIT))


def test_local_hf_cache(ti_weights, tmp_path, monkeypatch):
    state, path = ti_weights
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    _fill_cache(tmp_path / "cache", TI.hub_repo, path.read_bytes())
    b = load_model("vit_ti16")
    assert b.source == "local Hugging Face cache" and _same_weights(b, state)
    assert b.provenance.origin == provenance.PUBLISHED  # the cache holds the zoo's pretrained tag


@pytest.fixture
def online(monkeypatch, tmp_path):
    """Pretend the hub is allowed (tests run with HF_HUB_OFFLINE=1) with an empty cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hub, "_failure", None)  # no failed probe remembered from an earlier test

    def at(url):
        monkeypatch.setenv("HF_ENDPOINT", url)  # vitviz.model.hub passes it to every huggingface_hub call
    return at


def _assert_fallback(start, bundle, words):
    elapsed = time.monotonic() - start
    assert elapsed <= 10, f"fallback took {elapsed:.1f} s"
    assert bundle.fell_back and bundle.spec.key == "shapes" and bundle.requested.key == "vit_ti16"
    assert words in bundle.fallback_reason


def test_dead_port_falls_back_fast(online, monkeypatch):
    online(f"http://127.0.0.1:{free_port()}")
    probes = count_probes(monkeypatch)
    start = time.monotonic()
    b = load_model("vit_ti16")
    _assert_fallback(start, b, "could not be reached")
    assert "127.0.0.1 refused the connection" in b.fallback_reason  # in words, not "ConnectionRefusedError"
    assert probes == [TI.hub_repo]
    failed = hub.recent_failure()  # remembered: the next models do not wait on the hub again...
    assert failed is not None and failed.reason in b.fallback_reason and failed.retry_in() > 0
    again = load_model("vit_ti16")
    assert again.fell_back and again.fallback_reason == b.fallback_reason and probes == [TI.hub_repo]
    monkeypatch.setattr(hub, "RETRY_AFTER_S", 0.0)  # ...until the window is over: then it is asked again
    assert hub.recent_failure() is None
    assert load_model("vit_ti16").fell_back and len(probes) == 2


@pytest.mark.parametrize("error, words", [
    (socket.gaierror(-2, "Name or service not known"), "no network: the name huggingface.co could not be looked up"),
    (ConnectionRefusedError(111, "Connection refused"), "huggingface.co refused the connection"),
    (TimeoutError("timed out"), "huggingface.co did not answer in time"),
    (ssl.SSLError("bad handshake"), "the secure connection to huggingface.co failed"),
    (ConnectionResetError(104, "reset"), "the connection to huggingface.co was cut"),
    (ValueError("something else"), "no connection to huggingface.co"),
])
def test_an_unreachable_hub_is_explained_in_words(error, words):
    why = hub.unreachable_why(error, "https://huggingface.co/api/models/x")
    assert why.startswith(words) and type(error).__name__ not in why


def test_forget_failure_probes_at_once(online, monkeypatch):
    online(f"http://127.0.0.1:{free_port()}")
    probes = count_probes(monkeypatch)
    load_model("vit_ti16")
    hub.forget_failure(older_than=hub.recent_failure().at - 1)  # an older failure only: this one stays
    load_model("vit_ti16")
    assert len(probes) == 1
    hub.forget_failure()
    assert hub.recent_failure() is None
    load_model("vit_ti16")
    assert len(probes) == 2


def test_environment_offline_mode_wins(monkeypatch):
    probes = count_probes(monkeypatch)  # tests run with HF_HUB_OFFLINE=1
    hub.forget_failure()
    with pytest.raises(hub.HubUnavailable, match="offline mode"):
        hub.download(TI.hub_repo)
    assert probes == []


def test_fallback_with_offline_bundle_shares_the_model(shapes_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    b = load_model("vit_ti16", device="cpu", offline=lambda: shapes_bundle)
    assert b.fell_back and b.requested.key == "vit_ti16" and "offline mode" in b.fallback_reason
    assert b.model is shapes_bundle.model and b.identity == shapes_bundle.identity
    assert not shapes_bundle.fell_back and shapes_bundle.fallback_reason is None  # the shared bundle is untouched
    before = shapes_bundle.forward_calls
    b.count_call()
    assert shapes_bundle.forward_calls == b.forward_calls == before + 1


def test_identity_is_the_model_actually_loaded(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    assert tiny_bundle.identity == ModelIdentity("vit_ti16", "cpu", "fp32") and tiny_bundle.precision == "fp32"
    assert {tiny_bundle.identity: 1}[ModelIdentity("vit_ti16", "cpu")] == 1  # hashable, equal by value
    assert str(tiny_bundle.identity) == "vit_ti16@cpu/fp32"
    fallback = load_model("vit_s16", device="cpu")  # without ``offline``: its own copy, as before
    assert fallback.identity.key == "shapes" and fallback.requested.key == "vit_s16"


def test_silent_server_falls_back_fast(online):
    server = FakeHub(b"", mode="hang")
    try:
        online(server.url)
        start = time.monotonic()
        b = load_model("vit_ti16")
        _assert_fallback(start, b, "model hub")
    finally:
        server.close()


def test_download_from_hub_with_progress(online):
    torch.manual_seed(2)
    state = timm.create_model(TI.timm_name, pretrained=False).state_dict()
    server = FakeHub(save(state))
    seen = []
    try:
        online(server.url)
        b = load_model("vit_ti16", progress=lambda done, total: seen.append((done, total)))
    finally:
        server.close()
    assert b.source == "downloaded from the Hugging Face hub" and not b.fell_back
    assert _same_weights(b, state)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert hub.cached_file(TI.hub_repo) is not None  # now in the cache for offline use


def test_dropped_download_never_loads_half_a_file(online):
    torch.manual_seed(3)
    server = FakeHub(save(timm.create_model(TI.timm_name, pretrained=False).state_dict()), mode="drop")
    try:
        online(server.url)
        start = time.monotonic()
        b = load_model("vit_ti16")
    finally:
        server.close()
    _assert_fallback(start, b, "download")
    assert hub.cached_file(TI.hub_repo) is None


def test_damaged_cache_file_falls_back_and_says_so(ti_weights, tmp_path, monkeypatch, shapes_bundle):
    _, path = ti_weights
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    _fill_cache(tmp_path / "cache", TI.hub_repo, path.read_bytes()[:5000])  # cut off
    start = time.monotonic()
    b = load_model("vit_ti16")
    _assert_fallback(start, b, "damaged")
    shared = load_model("vit_ti16", device="cpu", offline=lambda: shapes_bundle)
    assert "damaged" in shared.fallback_reason and shared.model is shapes_bundle.model


def test_damaged_cache_file_is_replaced_when_the_hub_is_back(online, tmp_path):
    torch.manual_seed(4)
    state = timm.create_model(TI.timm_name, pretrained=False).state_dict()
    payload = save(state)
    _fill_cache(tmp_path / "cache", TI.hub_repo, payload[:1000], etag=hashlib.sha256(payload).hexdigest())
    server = FakeHub(payload)
    try:
        online(server.url)
        b = load_model("vit_ti16")
    finally:
        server.close()
    assert not b.fell_back and "downloaded again" in b.source and _same_weights(b, state)
    assert load_model("vit_ti16").source == "local Hugging Face cache"  # the next start uses the fresh copy


def test_the_model_notes_explain_their_words():
    """The sidebar shows the note of the model on screen: the first place a learner meets ImageNet and AugReg."""
    from vitviz.model.zoo import ZOO

    for spec in ZOO:
        for word, explained in (("ImageNet-21k", "ImageNet-21k (a public collection of about 14 million labelled"),
                                ("ImageNet-1k", "ImageNet-1k (1.28 million labelled photos of 1,000 classes"),
                                ("AugReg", "AugReg (a recipe of strong augmentation")):
            if word in spec.note:
                assert explained in spec.note, (spec.key, word)
        assert "ImageNet" not in spec.note.replace("ImageNet-21k", "").replace("ImageNet-1k", ""), spec.key


def test_the_articles_named_models_and_methods_are_explained():
    from vitviz.stages import article
    from vitviz.walkthrough import BY_KEY

    assert "CLIP trained to match images with their captions" in article.LLAVA_15.encoder
    stage = BY_KEY["faithfulness"]
    assert "LRP, layer-wise relevance propagation" in " ".join((stage.answer, stage.depth))
def test_provenance_of_each_source(shapes_bundle, tiny_bundle, ti_weights, monkeypatch):
    """Bundled, random and a user's file: each says what vitviz knows about its training, and only that."""
    _, path = ti_weights
    monkeypatch.setenv("VITVIZ_WEIGHTS_DIR", str(path.parent))
    mine = load_model("vit_ti16")
    assert shapes_bundle.provenance.origin == provenance.BUNDLED and shapes_bundle.provenance.trained_as_documented
    assert tiny_bundle.provenance.origin == provenance.RANDOM and tiny_bundle.source.startswith("random")
    assert mine.provenance.origin == provenance.LOCAL_FILE

    card = provenance.training_note(shapes_bundle.spec, shapes_bundle.provenance)
    assert card.startswith(shapes_bundle.spec.note) and "MODEL_CARD.md" in card
    random_note = provenance.training_note(tiny_bundle.spec, tiny_bundle.provenance)
    assert random_note.startswith("These weights are random: trained on nothing")
    assert f"The published checkpoint of this architecture ({TI.timm_name}): {TI.note}" in random_note
    own_note = provenance.training_note(mine.spec, mine.provenance)
    assert "your file vit_ti16.safetensors: its training is unknown to vitviz" in own_note
    published = provenance.published("local Hugging Face cache")
    assert provenance.training_note(TI, published) == TI.note

    for origin in (tiny_bundle.provenance, mine.provenance):  # never the training facts as if they were these weights'
        assert "recipe added" not in provenance.recipe_sentence(TI, origin)
        assert "published checkpoint" in provenance.recipe_sentence(TI, origin)
        assert "The model was trained at 16 px" not in provenance.patch_size_sentence(16, origin)
        assert "trained on the CLS token" not in provenance.head_training_sentence("the CLS token", origin)
        assert provenance.filters_sentence(origin)
    assert "these filters are noise, because nothing was learned" in provenance.filters_sentence(tiny_bundle.provenance)
    assert "cannot say whether these filters were learned" in provenance.filters_sentence(mine.provenance)
    for origin in (shapes_bundle.provenance, published):
        assert provenance.filters_sentence(origin) == ""
        assert "The model was trained at 16 px" in provenance.patch_size_sentence(16, origin)
    assert "random crops" in provenance.recipe_sentence(TI, published)
    assert "no random crops" in provenance.recipe_sentence(shapes_bundle.spec, shapes_bundle.provenance)
    with pytest.raises(ValueError, match="origin"):
        provenance.Provenance("somewhere", "?")


def test_random_weights_are_one_seeded_draw_and_leave_the_global_rng_alone():
    """Two random loads give the same weights (every reader sees the same numbers) and the caller's RNG is not
    moved: what it draws next is what it would have drawn without the loads."""
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    first = load_model("vit_ti16", device="cpu", pretrained=False)
    torch.manual_seed(7)  # another global state: the weights must not follow it
    second = load_model("vit_ti16", device="cpu", pretrained=False)
    torch.manual_seed(123)
    load_model("vit_ti16", device="cpu", pretrained=False)
    assert torch.equal(torch.rand(4), expected)
    a, b = first.model.state_dict(), second.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(a[k].std() > 0 for k in a if k.endswith("qkv.weight"))  # a real random draw, not zeros
    assert "seed 0" in first.source


def test_learned_is_said_only_of_trained_weights(shapes_bundle, tiny_bundle, ti_weights, monkeypatch):
    """One helper chooses the words for every page: trained weights keep "learned"; random ones and a user's file
    say what their values are instead."""
    _, path = ti_weights
    monkeypatch.setenv("VITVIZ_WEIGHTS_DIR", str(path.parent))
    mine = load_model("vit_ti16").provenance
    trained, published, random = shapes_bundle.provenance, provenance.published("cache"), tiny_bundle.provenance
    for p in (trained, published):
        assert provenance.learned(p) == "learned" and provenance.parameter("vector", p) == "learned vector"
        assert provenance.projection(p) == "one learned matrix" and provenance.values(p) == "learned"
        assert provenance.attention_compares(p).startswith("a learned query")
        assert provenance.resampled_heading(p) == "One trained model at other patch sizes"
        assert "never saw in training" in provenance.resampled_meaning(p)
        assert provenance.one_model_run(p) == "**One trained model run at other patch sizes**"
        assert provenance.built_at_one_size(p) == "A model is built, and trained, at one patch size"
        assert provenance.meets_other_size(p) == "it meets a patch size it was not trained for"
    assert provenance.learned(random) == "random" and provenance.learned(mine) == "stored"
    assert provenance.parameter("vector", random, "**") == ("**parameter vector** (learned in a trained model; here "
                                                            "random initialisation, seed 0)")
    assert "your file vit_ti16.safetensors" in provenance.parameter("vector", mine)
    for p in (random, mine):
        assert "learned" not in provenance.projection(p) and "learned" not in provenance.attention_compares(p)
        assert "computed (query·key)" in provenance.attention_compares(p)
        assert provenance.values(p) != "learned" and provenance.learned_or(p, "computed") == "computed"
        assert "trained" not in provenance.resampled_heading(p)
        assert provenance.one_model_run(p) == "**One model run at other patch sizes**"
        assert provenance.built_at_one_size(p) == "A model is built at one patch size (a trained one is trained at it)"
    assert "trained at no patch size" in provenance.resampled_meaning(random)
    assert "trained at no patch size" in provenance.meets_other_size(random)
    assert "not trained for" not in provenance.meets_other_size(mine) and "unknown" in provenance.meets_other_size(mine)
    assert provenance.positions_term(trained).startswith("Learned: ")
    assert "here they are random (random initialisation, seed 0)" in provenance.positions_term(random)
    assert provenance.model_name(get_spec("vit_s16"), published) == "`vit_small_patch16_224.augreg_in21k_ft_in1k`"
    assert provenance.model_name(get_spec("vit_s16"), random) == (
        "`vit_small_patch16_224` (published checkpoint: `vit_small_patch16_224.augreg_in21k_ft_in1k`)")
