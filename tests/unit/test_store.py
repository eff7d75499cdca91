"""The store of loaded models: one copy of each model actually loaded, fallbacks as views of the one
bundled model, and a hub that is asked again after a failure instead of never."""

import threading
import time

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save

from tests.fakehub import FakeHub, count_probes, free_port
from vitviz.model import hub, store as store_module
from vitviz.model.loading import load_model
from vitviz.model.store import ModelStore
from vitviz.model.zoo import get_spec

TI = get_spec("vit_ti16")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A store on the CPU with an empty Hugging Face cache (tests run with HF_HUB_OFFLINE=1)."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VITVIZ_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(hub, "_failure", None)
    return ModelStore(2**30, device="cpu")


@pytest.fixture
def online(monkeypatch):
    """Pretend the hub is allowed; returns a function that points it at an endpoint."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def at(url):
        monkeypatch.setenv("HF_ENDPOINT", url)
    return at


@pytest.fixture
def probes(monkeypatch):
    """Every probe of the hub, by repo (the real probe still runs)."""
    return count_probes(monkeypatch)


@pytest.fixture
def loads(monkeypatch):
    """Every load_model the store runs, by requested key."""
    seen: list[str] = []

    def counting(spec, *args, **kwargs):
        seen.append(spec.key)
        return load_model(spec, *args, **kwargs)
    monkeypatch.setattr(store_module, "load_model", counting)
    return seen


def test_offline_fallback_and_the_bundled_model_are_one_model(store, loads):
    asked = store.get("vit_s16")
    shapes = store.get("shapes")
    assert len(store) == 1 and store.models()[0].model is shapes.model
    assert asked.model is shapes.model and asked.identity == shapes.identity
    assert asked.fell_back and asked.requested.key == "vit_s16" and "offline mode" in asked.fallback_reason
    assert not shapes.fell_back and shapes.fallback_reason is None and shapes.requested is None
    assert loads == ["vit_s16", "shapes"]  # the bundled model was built once, for the fallback
    before = shapes.forward_calls
    asked.count_call()
    asked.count_call()
    shapes.count_call()
    assert asked.forward_calls == shapes.forward_calls == before + 3  # one counter, seen from every view
    state = store.fallback_state("vit_s16")
    assert state.reason == asked.fallback_reason and state.since_s >= 0 and state.retry_in_s > 0
    assert store.fallback_state("shapes") is None
    assert store.get("vit_s16") is asked and store.get("vit_b16").model is shapes.model and len(store) == 1


def test_bundled_model_first_then_fallback_reuses_it(store):
    shapes = store.get("shapes")
    assert store.get("dino_s16").model is shapes.model and len(store) == 1


def test_concurrent_gets_load_once(store, loads):
    got: list = []
    threads = [threading.Thread(target=lambda k=k: got.append(store.get(k)))
               for k in ("vit_s16", "vit_s16", "shapes", "vit_s16", "shapes")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(b.model) for b in got}) == 1 and len(store) == 1
    assert loads.count("shapes") == 1 and loads.count("vit_s16") == 1


def test_put_then_get_returns_it(store, tiny_bundle, loads):
    assert store.peek("vit_ti16") is None
    store.put(tiny_bundle)
    assert store.get("vit_ti16") is tiny_bundle and store.peek("vit_ti16") is tiny_bundle
    assert loads == [] and store.fallback_state("vit_ti16") is None
    with pytest.raises(ValueError, match="fallback"):
        store.put(store.get("vit_s16"))


def test_put_ends_a_fallback(store, tiny_bundle):
    assert store.get("vit_ti16").fell_back
    store.put(tiny_bundle)
    assert store.get("vit_ti16") is tiny_bundle and store.fallback_state("vit_ti16") is None


def test_peek_never_loads(store, loads):
    assert store.peek("shapes") is None and store.peek("vit_s16") is None and loads == []
    asked = store.get("vit_s16")
    assert loads == ["vit_s16", "shapes"]
    assert store.peek("vit_s16") is asked and store.peek("shapes").model is asked.model
    assert store.peek("vit_b16") is None  # would fall back, but that is a load attempt
    assert loads == ["vit_s16", "shapes"]


def test_peek_is_none_when_get_would_retry(store, loads, monkeypatch):
    store.get("vit_s16")
    monkeypatch.setattr(store_module, "RETRY_AFTER_S", 0.0)
    assert store.peek("vit_s16") is None  # its window is over: get would try the hub again
    store.retry_now()
    assert store.peek("vit_s16") is None and store.fallback_state("vit_s16") is None
    assert store.peek("shapes") is not None  # forgetting a fallback keeps the bundled model
    assert loads == ["vit_s16", "shapes"]


def test_evicted_offline_model_is_reloaded_once_for_the_fallback(tmp_path, monkeypatch, tiny_bundle):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    small = ModelStore(1, device="cpu")  # room for one model: the newest
    first = small.get("vit_s16")
    small.put(tiny_bundle)  # evicts the bundled model
    assert len(small) == 1 and small.peek("vit_s16") is None
    again = small.get("vit_s16")  # within the window: the bundled model again, not a retry of the hub
    assert again.fell_back and again.fallback_reason == first.fallback_reason
    assert [b.model for b in small.models()] == [again.model] and again.model is not first.model


def test_during_the_window_the_hub_is_not_probed_again(store, online, probes):
    online(f"http://127.0.0.1:{free_port()}")
    start = time.monotonic()
    first = store.get("vit_ti16")
    assert time.monotonic() - start <= 10 and first.fell_back and "could not be reached" in first.fallback_reason
    assert probes == [TI.hub_repo]
    assert store.get("vit_ti16") is first  # the store's window: no load at all
    other = store.get("vit_s16")  # the hub's window: the remembered failure, at once
    assert other.fell_back and "could not be reached" in other.fallback_reason and other.model is first.model
    assert probes == [TI.hub_repo] and len(store) == 1
    state = store.fallback_state("vit_ti16")
    assert 0 < state.retry_in_s <= store_module.RETRY_AFTER_S and state.reason == first.fallback_reason


def test_after_the_window_the_hub_is_probed_again(store, online, probes, monkeypatch):
    online(f"http://127.0.0.1:{free_port()}")
    assert store.get("vit_ti16").fell_back and len(probes) == 1
    monkeypatch.setattr(store_module, "RETRY_AFTER_S", 0.0)
    assert store.fallback_state("vit_ti16").retry_in_s == 0
    assert store.get("vit_ti16").fell_back and len(probes) == 2  # still dead: falls back again


@pytest.mark.parametrize("how", ["window", "retry_now"])
def test_hub_that_comes_back_is_used(store, online, probes, monkeypatch, how):
    port = free_port()
    online(f"http://127.0.0.1:{port}")
    first = store.get("vit_ti16")
    assert first.fell_back and "could not be reached" in first.fallback_reason
    torch.manual_seed(5)
    state = timm.create_model(TI.timm_name, pretrained=False).state_dict()
    server = FakeHub(save(state), port=port)  # the network is back, on the same endpoint
    try:
        assert store.get("vit_ti16") is first and len(probes) == 1  # nobody asks before the window ends
        if how == "window":
            monkeypatch.setattr(store_module, "RETRY_AFTER_S", 0.0)
        else:
            store.retry_now()
        real = store.get("vit_ti16")
    finally:
        server.close()
    assert len(probes) == 2
    assert not real.fell_back and real.spec.key == "vit_ti16" and real.source == "downloaded from the Hugging Face hub"
    own = real.model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())
    assert store.fallback_state("vit_ti16") is None and store.get("vit_ti16") is real
    assert {b.spec.key for b in store.models()} == {"shapes", "vit_ti16"}
