"""The Bits & memory page through AppTest: the training memory it states, what it says about torch's casts, the
CPU and the GPU, tokens, the training data, plain words for its terms, and tables pyarrow can hold."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui import caches
from vitviz.model.loading import load_model
from vitviz.stages import memory
from tests.app.pages import ok, open_page

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def random_vit():
    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))


def bits_page(model: str, sample: str) -> AppTest:
    return ok(open_page(model, sample, "bits"))


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [i.value for i in at.info] + [c.value for c in at.caption]
    parts += [f"{m.label} {m.value} {m.proto.help}" for m in at.metric]
    parts += [str(getattr(w.proto, "help", "")) for w in (*at.selectbox, *at.select_slider, *at.button, *at.text_input)]
    return "\n".join(parts)


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


@pytest.mark.parametrize("model,sample", [("shapes", "shape_star"), ("vit_ti16", "cat")])
def test_bits_page_states_training_memory_torch_casts_cpu_gpu_tokens_and_training_data(model, sample):
    at = bits_page(model, sample)
    bundle = caches.MODELS.peek(model)
    net = bundle.model
    text = text_of(at)
    MB = 1e6

    # section 1 opens on a weight: the bundled file stores fp16, so fp16 rounds it with no error, and the page says so
    assert at.selectbox(key="bits_source").value == memory.WEIGHT_W00
    rows = at.dataframe[0].value
    fp16_error = float(dict(zip(rows["format"], rows["rounding error"]))["fp16"])
    said = "This model's weights are stored in **fp16** in their file"
    if model == "shapes":
        assert fp16_error == 0 and said in text
    else:  # random weights: no file, and an fp32 number that fp16 rounds
        assert fp16_error != 0 and "weights are stored in" not in text
    at.selectbox(key="bits_source").select(next(o for o in at.selectbox(key="bits_source").options
                                                if o.startswith("A value of patch"))).run()
    assert said not in text_of(at)  # an activation: computed in fp32, not read from the file

    # mixed-precision training: the sum of what sits in memory (16 B / parameter), accelerate's figure labelled
    fp32, mixed = memory.training_memory(net, "fp32"), memory.training_memory(net, "bf16")
    assert metric(at, "fp32 training: the sum").value == f"{fp32.total / MB:,.2f} MB"
    assert metric(at, "Mixed-precision training: the sum").value == f"{mixed.total / MB:,.2f} MB"
    acc = metric(at, "accelerate estimate-memory, mixed precision")
    assert acc.value == f"{mixed.accelerate_peak / MB:,.2f} MB" and "largest single stage" in acc.delta
    assert "Mixed precision keeps **16 bytes per parameter**, the same as fp32 (16)" in text
    assert any("accelerate's training figure: its largest single stage (MB)" in d.value.columns for d in at.dataframe)
    parts = next(d.value for d in at.dataframe if "part" in d.value.columns)
    assert list(parts["part"]) == ["weights", "gradients", "fp32 master copy", "Adam m", "Adam v", "sum"]
    assert list(parts["fp16/bf16 mixed (bytes / parameter)"]) == [2, 2, 4, 4, 4, 16]
    assert list(parts["fp32 (bytes / parameter)"]) == [4, 4, 0, 4, 4, 16]
    assert "not trained directly here" in text and "QLoRA" in text and "8-bit optimisers" in text
    stack = next(c for c in at.get("plotly_chart") if "everything in memory at once" in str(c.proto.spec))
    assert "accelerate estimate-memory: its largest single stage" in str(stack.proto.spec)

    # the b = 1 term of the activation formula is explained, with both figures the page uses
    shape = memory.Shape.of(net)
    one, share = (memory.training_activation_numbers(shape, b) * 4 / b for b in (1, 2))
    assert one > share
    assert (f"**{one / MB:,.2f} MB** for one image alone, **{share / MB:,.2f} MB** per image in a batch of 2 or more"
            in text) and "the combined output is freed" in text

    # 'Will it fit?' counts weights + gradients + optimizer + activations
    fit = memory.largest_batch(memory.Shape.of(net), net, memory.GPUS["NVIDIA T4, 16 GB"], "fp32")
    assert metric(at, "Largest training batch (Adam)").value == f"{fit.training_batch:,}"
    assert f"weights + gradients + optimizer state (Adam m and v) = **{fit.training.total / MB:,.1f} MB**" in text
    at.selectbox(key="fit_dtype").select("int8").run()
    assert metric(at, "Largest training batch (Adam)").value == "not trained directly here"
    at.selectbox(key="fit_dtype").select("fp16").run()
    assert "fp32 master copy) = " in text_of(at)

    # torch's casts: normal numbers only in the formula, a subnormal shown, rounding vs overflow vs saturation
    assert "That formula covers normal numbers only" in text and "**subnormal**" in text
    edges = next(d.value for d in at.dataframe if "stored by torch" in d.value.columns)
    assert list(edges["stored by torch"]) == ["65504.0", "inf", "57344.0", "inf", "448.0", "448.0"]
    at.selectbox(key="bits_source").select(next(o for o in at.selectbox(key="bits_source").options
                                                if o.startswith("A tiny number"))).run()
    formats = at.dataframe[0].value
    assert dict(zip(formats["format"], formats["kind"]))["fp16"] == "subnormal"

    # the CPU runs the program; time on CPU (and CUDA when present) on a random input, next to the MACs
    assert "“GPU is used to execute the program temperorly [sic]”" in text
    assert "the **CPU** (the computer's main processor) runs the program" in text
    gpu = torch.cuda.is_available()
    assert memory.compute_heading(gpu) in [h.value for h in at.header]
    assert ("the GPU multiplies" in memory.compute_heading(gpu)) == gpu
    if "timing_run" in [b.key for b in at.button]:  # on request, unless this model and format were timed already
        assert not any(m.label.startswith("Measured time / image on the CPU") for m in at.metric)
        at.button(key="timing_run").click().run()
    timed = metric(at, "Measured time / image on the CPU (fp32)").value
    assert timed.endswith(" ms")
    other = bits_page(model, sample)  # another visitor: the model was timed on this server, shown at once
    assert metric(other, "Measured time / image on the CPU (fp32)").value == timed
    assert not any(b.key == "timing_run" for b in other.button)
    text = text_of(at)
    if not torch.cuda.is_available():
        assert metric(at, "Measured time / image on CUDA").value == "no CUDA GPU"
        assert "`torch.cuda.is_available()` is False: there is no CUDA GPU" in text
    assert "Timed on a **random input** of the model's size" in text
    assert any(m.label.startswith("GMACs / image") for m in at.metric)

    # text: one vector per token (honest byte-level split) next to the image's patch vectors
    D = net.embed_dim
    assert metric(at, "Text: UTF-8 bytes").value == "17"
    assert metric(at, "Text: byte-level tokens → vectors").value == f"17 × {D}"
    patches = memory.Shape.of(net).patches
    assert metric(at, "Image: patch vectors").value == f"{patches:,} × {D}"
    assert "one token per UTF-8 byte" in text and "A real tokenizer merges bytes into fewer" in text

    # a prediction needs the weights and the image, not the training data
    _, held = memory.state_dict_bytes(net)
    assert metric(at, "Everything the model holds").value == f"{held / MB:,.2f} MB"
    data = memory.training_data(bundle)
    if model == "shapes":
        assert metric(at, "Different images it was trained on").value == "1,024,000"  # distinct: stage 2 repeated stage 1's seed
        assert "none of them is loaded to predict" in text and "MODEL_CARD.md" in text
        assert ("trained on generated shape images; it saw 1,088,000 images: 1,024,000 different ones in stage 1 "
                "(16,000 batches of 64), and stage 2 re-used stage 1's first 1,000 batches") in text
        # the ratio names the copy it divides: the weights in memory now (fp32), and the file on disk beside it
        assert (f"in memory now (fp32) they take {held:,} bytes, and {held:,} bytes ÷ 1,024,000 different images = "
                f"**{held / 1_024_000:.2f} bytes per training image**") in text
        from vitviz.offline.vit import WEIGHTS_FILE
        size = WEIGHTS_FILE.stat().st_size
        assert f"(the weights file on disk: {size:,} bytes ÷ 1,024,000 = {size / 1_024_000:.2f})" in text
        assert metric(at, "Weights file").value == f"{WEIGHTS_FILE.stat().st_size / MB:,.3f} MB"  # the file on disk
        assert "fp16, as the bundled model ships" in metric(at, "Weights file").proto.help
    else:
        assert metric(at, "Images the published checkpoint was trained on").value == "about 14 million"
        assert "These weights are **random**" in text and "as reported in the literature" in text
        # no file was read: the figure says it is parameters × 4 bytes, not a file's size
        assert metric(at, "Weights file: parameters × 4 bytes").value == f"{bundle.spec.params * 4 / MB:,.3f} MB"
        assert not any(m.label == "Weights file" for m in at.metric)
    assert data is not None

    # every technical term gets a plain explanation where it first appears
    for term in ("**fp32**", "**exponent** (", "**mantissa** (", "**subnormal** (", "**MAC** (", "**FLOP** is",
                 "**Activations** are", "**Adam**, the usual optimiser", "**CUDA** is", "**Quantisation** stores",
                 "**zero point** is", "**GFLOP/s**, billions of FLOPs per second", "**Gop/s**, billions of operations"):
        assert term in text, term

    # no arrow on a delta that is not a change (a count, a ratio, a note): the Bits page has no signed change
    from streamlit.proto.Metric_pb2 import Metric
    deltas = [m for m in at.metric if m.proto.delta]
    assert deltas and all(m.proto.direction == Metric.NONE for m in deltas), \
        [(m.label, m.proto.delta) for m in deltas if m.proto.direction != Metric.NONE]

    # pyarrow: every table column holds one type
    for frame in at.dataframe:
        for column in frame.value.columns:
            kinds = {type(v).__name__ for v in frame.value[column] if not pd.isna(v)}
            kinds = {"number" if k in ("int", "float", "int64", "float64") else k for k in kinds}
            assert len(kinds) <= 1, (column, kinds)


def test_bits_page_quotes_are_verbatim_and_the_article_list_has_240_numbers():
    import re

    article_file = ROOT / "docs" / "seed_article.md"
    if not article_file.exists():
        pytest.skip("docs/seed_article.md (the article's verbatim copy) is not in this checkout")
    article = re.sub(r"\s+", " ", article_file.read_text(encoding="utf-8"))
    at = bits_page("shapes", "shape_heart")
    text = text_of(at)
    for quote in ("GPU is used to execute the program temperorly [sic]",
                  'this is the vector presentation of "What is Botpress?"',
                  "user input data is compared with the pretrin [sic] data"):
        assert f"“{quote}”" in text and quote.replace(" [sic]", "") in article, quote
    start = article.index("[0.45, -0.12")
    assert len(re.findall(r"-?\d+\.\d+", article[start:article.index("]", start)])) == 240
    assert "one list of 240 numbers" in text
