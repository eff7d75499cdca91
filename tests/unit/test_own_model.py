"""Your own model: a timm name (its size from the meta device, nothing downloaded), a safetensors file whose own
shapes decide what it is, a sentence for what cannot be shown, and the same weight sources as the zoo's."""

import pytest
import timm
import torch
from huggingface_hub import constants
from safetensors.torch import save, save_file

from tests.fakehub import FakeHub
from vitviz.__main__ import main
from vitviz.model import hub, own, provenance
from vitviz.model.loading import load_model
from vitviz.model.zoo import ZOO, get_spec


@pytest.fixture
def no_downloads(monkeypatch):
    """Fail the test if anything asks the hub."""
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may be downloaded here")
    monkeypatch.setattr(hub, "download", refuse)
    monkeypatch.setattr(hub, "probe", refuse)


@pytest.mark.parametrize("name, patch, size, prefix, labels", [
    ("deit3_small_patch16_224.fb_in22k_ft_in1k", 16, 224, 1, "imagenet-1k"),
    ("vit_small_patch14_reg4_dinov2.lvd142m", 14, 518, 5, "none"),  # the checkpoint's own size
    ("vit_base_patch16_clip_224.openai", 16, 224, 1, "none"),  # a 512-number embedding, not ImageNet classes
    ("vit_base_patch16_siglip_224.webli", 16, 224, 0, "none"),
    ("flexivit_small.1200ep_in1k", 16, 240, 1, "imagenet-1k"),
])
def test_a_timm_name_is_read_without_its_weights(name, patch, size, prefix, labels, no_downloads):
    spec = own.spec_for_name(name)
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    assert spec.params == sum(p.numel() for p in model.parameters())
    assert (spec.patch_size, spec.resolution, spec.prefix_tokens, spec.labels) == (patch, size, prefix, labels)
    zoo = next((z for z in ZOO if z.timm_name == name and z.resolution == size), None)  # DeiT-III, FlexiViT
    assert spec is zoo if zoo is not None else spec.key == f"timm:{name}" and spec.own
    assert spec.hub_repo == f"timm/{name}" and get_spec(spec.key) is spec
    said = own.size_sentence(spec)
    assert f"{spec.params / 1e6:.1f} M parameters" in said and f"{spec.params * 4 / 1e6:,.0f} MB" in said
    note = provenance.training_note(spec, provenance.published("local Hugging Face cache"))
    assert note == (zoo.note if zoo is not None else spec.note) and ("published checkpoint" in note) == (zoo is None)


def test_a_name_without_its_tag_gets_timms_default_tag(no_downloads):
    default = timm.list_pretrained("deit3_small_patch16_224.*")[0]  # timm lists the default tag first
    assert default == "deit3_small_patch16_224.fb_in1k"
    assert own.spec_for_name("deit3_small_patch16_224").timm_name == default


@pytest.mark.parametrize("name, words", [
    ("vit_smal_patch16_224.augreg_in1k", "timm has no model called “vit_smal_patch16_224”. Did you mean"),
    ("vit_small_patch16_224.no_such_tag", "timm has no published weights “no_such_tag” for vit_small_patch16_224"),
    ("swin_tiny_patch4_window7_224.ms_in1k", "attends within shifted local windows"),
    ("convnext_atto.d2_in1k", "has no attention at all"),
    ("eva02_tiny_patch14_224.mim_in22k", "rotary position embeddings"),
    ("vit_base_r50_s16_224.orig_in21k", "convolutional stem"),
])
def test_what_cannot_be_shown_gets_one_sentence_and_nothing_is_downloaded(name, words, no_downloads):
    with pytest.raises(own.OwnModelError) as err:
        own.spec_for_name(name)
    said = str(err.value)
    assert words in said and "\n" not in said


def test_a_model_over_the_memory_budget_is_refused_before_a_download(no_downloads):
    with pytest.raises(own.OwnModelError, match="needs 346 MB for its weights alone, more than the 200 MB"):
        own.spec_for_name("vit_base_patch16_224.augreg2_in21k_ft_in1k", budget_bytes=200 * 2**20)
    assert own.spec_for_name("vit_tiny_patch16_224.augreg_in21k_ft_in1k", budget_bytes=200 * 2**20)


def _save(tmp_path, name, file="mine.safetensors", **kwargs):
    torch.manual_seed(4)
    model = timm.create_model(name, pretrained=False, **kwargs)
    path = tmp_path / file
    save_file(model.state_dict(), str(path))
    return model, path


def test_a_files_own_shapes_decide_its_input_size(tmp_path, no_downloads):
    """A position table for 16×16 patches of 14 px means a 224-px input, whatever the architecture's default
    (DINOv2's is 518): the file decides its patch size, grid, depth and registers."""
    model, path = _save(tmp_path, "vit_small_patch14_reg4_dinov2", depth=2, img_size=224)
    spec = own.spec_for_file(path, "vit_small_patch14_reg4_dinov2")
    assert (spec.patch_size, spec.resolution, spec.prefix_tokens, spec.labels) == (14, 224, 5, "none")
    assert dict(spec.build)["depth"] == 2 and spec.key.startswith("file:vit_small_patch14_reg4_dinov2:")
    b = load_model(spec, device="cpu")
    assert b.weights_path == path and b.provenance.origin == provenance.LOCAL_FILE and b.provenance.unknown
    assert all(torch.equal(b.model.state_dict()[k], v) for k, v in model.state_dict().items())
    assert b.data_config["input_size"] == (3, 224, 224)
    assert provenance.training_note(b.spec, b.provenance) == spec.note and "unknown to vitviz" in spec.note
    assert own.spec_for_file(path, "vit_small_patch14_reg4_dinov2").key == spec.key  # the content decides the key


def test_a_files_own_head_is_loaded_with_numbered_classes(tmp_path):
    """A head of 10 classes is the file's own: timm would drop a head whose size differs from its config's."""
    model, path = _save(tmp_path, "vit_tiny_patch16_224", depth=1, img_size=64, num_classes=10)
    spec = own.spec_for_file(path, "vit_tiny_patch16_224")
    b = load_model(spec, device="cpu")
    assert b.labels == tuple(f"class {i}" for i in range(10))
    assert torch.equal(b.model.head.weight, model.head.weight)
    same = own.spec_for_file(_save(tmp_path, "vit_tiny_patch16_224", "in1k.safetensors", depth=1, img_size=64)[1],
                             "vit_tiny_patch16_224")
    assert same.labels == "imagenet-1k" and "named as imagenet-1k's classes" in same.note


def test_a_file_that_does_not_fit_its_architecture_gets_a_sentence(tmp_path):
    _, path = _save(tmp_path, "vit_tiny_patch16_224", depth=1, img_size=64)
    with pytest.raises(own.OwnModelError, match="does not hold the weights of deit_tiny_distilled_patch16_224"):
        own.spec_for_file(path, "deit_tiny_distilled_patch16_224")
    (tmp_path / "model.bin").write_bytes(b"not a pickle we read")
    with pytest.raises(own.OwnModelError, match="only .safetensors"):
        own.spec_for_file(tmp_path / "model.bin", "vit_tiny_patch16_224")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(own.OwnModelError, match="not a safetensors file"):
        own.spec_for_file(tmp_path / "junk.safetensors", "vit_tiny_patch16_224")


def test_an_upload_is_kept_once_under_its_own_name():
    first = own.keep_upload(b"weights", "mine.safetensors")
    assert first.name == "mine.safetensors" and first.read_bytes() == b"weights"
    assert own.keep_upload(b"weights", "mine.safetensors") == first


def test_the_weights_dir_lists_its_files(tmp_path, monkeypatch):
    (tmp_path / "a.safetensors").write_bytes(b"x")
    (tmp_path / "b.pth").write_bytes(b"x")
    monkeypatch.setenv("VITVIZ_WEIGHTS_DIR", str(tmp_path))
    assert [p.name for p in own.weights_dir_files()] == ["a.safetensors"]


def test_a_name_downloads_from_the_hub_and_falls_back_as_zoo_models_do(monkeypatch, tmp_path):
    name = "deit_tiny_distilled_patch16_224.fb_in1k"
    spec = own.spec_for_name(name)
    offline = load_model(spec, device="cpu")  # tests run offline: the bundled model stands in, and says why
    assert offline.fell_back and offline.requested is spec and "offline mode is on" in offline.fallback_reason
    torch.manual_seed(5)
    state = timm.create_model(name, pretrained=False).state_dict()
    server = FakeHub(save(state))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hub, "_failure", None)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        b = load_model(spec, device="cpu")
    finally:
        server.close()
    assert not b.fell_back and b.source == "downloaded from the Hugging Face hub"
    assert b.provenance.trained_as_documented and b.labels[0].startswith("tench")
    assert all(torch.equal(b.model.state_dict()[k], v) for k, v in state.items())
    assert any(f"/{spec.hub_repo}/" in r for r in server.requests)


def test_the_command_line_takes_a_name_or_a_file(tmp_path, capsys):
    from vitviz.inputs.samples import BY_KEY

    image = tmp_path / "cat.png"
    image.write_bytes(BY_KEY["cat"].data())
    _, path = _save(tmp_path, "vit_small_patch14_dinov2", depth=1, img_size=56)
    assert main(["analyze", str(image), "--model", "vit_small_patch14_dinov2", "--weights", str(path)]) == 0
    out = capsys.readouterr()
    assert "56x56 px, patches 14 px, grid 4x4 = 16 patches + 1 CLS token = 17 tokens" in out.out
    assert "your file mine.safetensors" in out.out and "4 M parameters" not in out.err
    assert main(["analyze", str(image), "--model", "swin_tiny_patch4_window7_224.ms_in1k"]) == 2
    assert "cannot be shown" in capsys.readouterr().err
    assert main(["analyze", str(image), "--model", "no_such_vit"]) == 2
    assert "timm has no model called “no_such_vit”" in capsys.readouterr().err
