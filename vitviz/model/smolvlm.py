"""SmolVLM-256M-Instruct, the small vision-language model the "Into a language model" page runs: its settings,
where its files are, fetching them, loading them, and whether this machine's memory allows an answer.

What the page shows without the weights (the crops, the token counts, the prompt's structure) comes from the
settings below, which are the model's own (``config.json``, ``preprocessor_config.json``, ``processor_config.json``
and the chat template of ``HuggingFaceTB/SmolVLM-256M-Instruct``); once the files are fetched, the files' own
values are read instead and these are checked against them (``settings_of``). The model card and the SmolVLM
paper (Marafioti et al. 2025) describe the same design: a SigLIP base encoder (16-px patches, 512-px inputs), pixel
shuffle by 4, one linear projection into SmolLM2-135M, 64 image tokens per 512-px crop.

Where each number was checked (the hub itself is not reachable from where vitviz is built, so the files' copies
were): the model card (base models SigLIP base-patch16-512 and SmolLM2-135M-Instruct; "64 visual tokens to encode
image patches of size 512×512"; ``size={"longest_edge": N*512}`` with N = 4 by default); the SmolVLM-256M/500M
release post (huggingface/blog ``smolervlm.md``: SigLIP base patch-16/512 of 93M parameters, 4,096 pixels per image
token = 512² / 64, ``<row_r_col_c>`` one token each); public copies of the config, processor settings and chat
template in other projects' test fixtures (scale_factor 4, image_token_id 49190, text 576 wide, 30 layers, 9 heads,
3 key/value heads, vocab 49,280; vision 768 wide, 12 layers, 512 px, patch 16; image_seq_len 64; longest_edge 2048
and 512); transformers' own Idefics3/SmolVLM source (pixel shuffle, the connector: one Linear without bias, image
splitting, the prompt's image layout). The architecture built from ``CONFIG`` has 256.5 M parameters (tested).
Fetched files' own values replace these at run time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from vitviz.model import hub

KEY = "smolvlm"  # the command line's name for it (``python -m vitviz fetch smolvlm``)
REPO_ID = "HuggingFaceTB/SmolVLM-256M-Instruct"
TITLE = "SmolVLM-256M-Instruct"
LICENSE = "Apache-2.0"
FETCH_COMMAND = f"python -m vitviz fetch {KEY}"
PAPER = ("Marafioti et al. (2025), “SmolVLM: Redefining small and efficient multimodal models”, arXiv:2504.05299")
CARD = f"https://huggingface.co/{REPO_ID}"
# What a fetch downloads: the weights, configs, tokenizer and template (not the repo's ONNX exports).
ALLOW = ["*.json", "*.safetensors", "*.txt", "*.jinja"]
NEEDED = ("config.json", "model.safetensors", "tokenizer.json")  # and the processor's settings (below)

# The model's own config.json (the architecture's sizes), as published for HuggingFaceTB/SmolVLM-256M-Instruct:
# transformers builds the same architecture from it with random weights (tests, benchmarks/vlm_speed.py).
CONFIG: dict = {
    "architectures": ["Idefics3ForConditionalGeneration"],
    "model_type": "idefics3",
    "image_token_id": 49190,
    "scale_factor": 4,  # pixel shuffle folds 4×4 neighbouring patch vectors into one
    "tie_word_embeddings": False,
    "vocab_size": 49280,
    "text_config": {  # SmolLM2-135M's shape
        "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "vocab_size": 49280,
        "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "tie_word_embeddings": False,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
    },
    "vision_config": {  # SigLIP base, patch 16, 512 px
        "model_type": "idefics3_vision", "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
        "num_attention_heads": 12, "image_size": 512, "patch_size": 16, "layer_norm_eps": 1e-6,
    },
}
# preprocessor_config.json: the long side is scaled to 4 × 512 = 2048 px, then cut into 512-px crops.
PREPROCESSOR: dict = {
    "do_convert_rgb": True, "do_image_splitting": True, "do_normalize": True, "do_pad": True, "do_rescale": True,
    "do_resize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    "max_image_size": {"longest_edge": 512}, "resample": 1, "rescale_factor": 1 / 255,
    "size": {"longest_edge": 2048},
}
IMAGE_SEQ_LEN = 64  # processor_config.json: image tokens per crop
# The chat template (chat_template.json): a user turn with the image first, then the question; "Assistant:" last.
CHAT_TEMPLATE = ("<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content']"
                 "[0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}"
                 "{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}"
                 "{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}"
                 "{{ 'Assistant:' }}{% endif %}")
# The tokenizer's special tokens the prompt uses (tokenizer_config.json), with what each one marks.
SPECIAL_TOKENS: dict[str, str] = {
    "<|im_start|>": "start of the conversation",
    "<fake_token_around_image>": "a fence around each crop's image tokens",
    "<global-img>": "the global view follows",
    "<image>": "one image token: a slot the model fills with one projected vector",
    "<end_of_utterance>": "end of a turn (also what ends the answer)",
}
ROW_COL = r"<row_\d+_col_\d+>"  # "<row_1_col_2>": the crop in row 1, column 2 follows


@dataclass(frozen=True)
class Settings:
    """The numbers that decide how the image becomes tokens (the model's config and processor)."""

    longest_edge: int  # px the image's long side is scaled to first
    crop: int  # px of each crop and of the global view (the encoder's input size)
    patch: int  # px of the encoder's patches
    scale_factor: int  # pixel shuffle: s×s patch vectors become one
    encoder_width: int  # numbers per patch vector out of the encoder
    lm_width: int  # numbers per token of the language model
    lm_layers: int
    lm_heads: int
    image_seq_len: int  # image tokens per crop, as the processor writes them
    image_token_id: int

    @property
    def patches_side(self) -> int:
        return self.crop // self.patch

    @property
    def tokens_side(self) -> int:
        return self.patches_side // self.scale_factor

    @property
    def tokens_per_crop(self) -> int:
        """(crop / patch)² / s²: what pixel shuffle leaves of one crop's patch vectors."""
        return self.tokens_side ** 2

    @property
    def shuffled_width(self) -> int:
        return self.encoder_width * self.scale_factor ** 2


def settings_of(config: dict, preprocessor: dict, image_seq_len: int) -> Settings:
    """The settings read from a config.json and a preprocessor_config.json (as dicts)."""
    v, t = config["vision_config"], config["text_config"]
    return Settings(longest_edge=int(preprocessor["size"]["longest_edge"]),
                    crop=int(preprocessor["max_image_size"]["longest_edge"]), patch=int(v["patch_size"]),
                    scale_factor=int(config["scale_factor"]), encoder_width=int(v["hidden_size"]),
                    lm_width=int(t["hidden_size"]), lm_layers=int(t["num_hidden_layers"]),
                    lm_heads=int(t["num_attention_heads"]), image_seq_len=int(image_seq_len),
                    image_token_id=int(config["image_token_id"]))


PUBLISHED = settings_of(CONFIG, PREPROCESSOR, IMAGE_SEQ_LEN)


def build_config(config: dict | None = None):
    """A transformers config object for ``config`` (default: the real model's sizes)."""
    from transformers import AutoConfig

    c = dict(config or CONFIG)
    return AutoConfig.for_model(c.pop("model_type"), **{k: v for k, v in c.items() if k != "architectures"})


def random_model(config: dict | None = None, dtype: torch.dtype = torch.float32, seed: int = 0):
    """The architecture of ``config`` with random weights (no download): same arithmetic, meaningless words."""
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(build_config(config), attn_implementation=ATTENTION)
    return model.to(dtype).eval()


def parameter_count(config: dict | None = None) -> int:
    """Parameters of the architecture, counted on the meta device (no memory, no weights)."""
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(build_config(config))
    return sum(p.numel() for p in model.parameters())


# The language model's attention in eager mode (its probabilities are read); the encoder's fused (SDPA) while it
# reads all crops at once, eager only for the one crop opened up (``vitviz.stages.vlm.open_view``).
ATTENTION = {"text_config": "eager", "vision_config": "sdpa", "": "eager"}


# --- the files ------------------------------------------------------------------------------------------------

FOLDER_ENV = "VITVIZ_SMOLVLM_DIR"  # a folder holding the model's files, copied by hand (a USB stick before class)


def local_files() -> Path | None:
    """The folder holding the model's files: ``$VITVIZ_SMOLVLM_DIR`` when set, else the fetched copy in the Hugging
    Face cache; None when neither is (completely) here."""
    import huggingface_hub

    if os.environ.get(FOLDER_ENV):
        folder = Path(os.environ[FOLDER_ENV])
        return folder if complete(folder) else None
    try:
        path = Path(huggingface_hub.snapshot_download(REPO_ID, allow_patterns=ALLOW, local_files_only=True))
    except Exception:  # not in the cache (LocalEntryNotFoundError), or a damaged cache
        return None
    return path if complete(path) else None


def complete(path: Path) -> bool:
    """Whether ``path`` holds what loading needs: config, weights, tokenizer and the processor's settings
    (``preprocessor_config.json`` as on the hub, or ``processor_config.json`` as transformers 5 saves them)."""
    return (all((path / name).is_file() for name in NEEDED)
            and any((path / name).is_file() for name in ("preprocessor_config.json", "processor_config.json")))


def fetch(progress: hub.Progress | None = None) -> Path:
    """Download the model's files into the Hugging Face cache (probing the hub first, like every vitviz download);
    raises ``hub.HubUnavailable`` with a sentence when it cannot."""
    import huggingface_hub

    if hub.hub_offline():
        raise hub.HubUnavailable("offline mode is on (HF_HUB_OFFLINE)")
    reason = hub.probe(REPO_ID)
    if reason:
        raise hub.HubUnavailable(reason)
    try:
        kwargs = {"tqdm_class": hub._progress_tqdm(progress)} if progress else {}
        path = Path(huggingface_hub.snapshot_download(REPO_ID, allow_patterns=ALLOW, endpoint=hub.endpoint(),
                                                      etag_timeout=hub.PROBE_TIMEOUT_S, **kwargs))
    except Exception as exc:  # network drop mid-file, 404, disk full...
        raise hub.HubUnavailable(f"the download from the model hub failed ({type(exc).__name__})") from exc
    if not complete(path):
        raise hub.HubUnavailable("the download is incomplete (config, weights, tokenizer or processor settings "
                                 "missing)")
    return path


@dataclass
class Loaded:
    """The model and its processor, loaded from the fetched files."""

    model: object  # transformers' Idefics3ForConditionalGeneration (eager attention: its probabilities are read)
    processor: object  # transformers' Idefics3Processor
    settings: Settings
    dtype: torch.dtype
    path: Path
    device: torch.device = torch.device("cpu")

    @property
    def identity(self) -> tuple:
        return (REPO_ID, self.path.name, str(self.dtype).removeprefix("torch."), self.device.type)


_lock = threading.Lock()
_loaded: dict[str, Loaded] = {}


def load(path: Path, dtype: torch.dtype = torch.float32, device: str | None = None) -> Loaded:
    """The model in ``path`` in ``dtype``, loaded once per process, number format and device (default: CUDA when
    available, else the CPU)."""
    import json

    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    key = f"{path}|{dtype}|{device}"
    with _lock:
        if key in _loaded:
            return _loaded[key]
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype, attn_implementation=ATTENTION).to(device).eval()
        processor = AutoProcessor.from_pretrained(path)
        config = json.loads((path / "config.json").read_text())
        images = processor.image_processor  # its settings as loaded (from preprocessor_config.json)
        pre = {"size": dict(images.size), "max_image_size": dict(images.max_image_size)}
        seq = getattr(processor, "image_seq_len", IMAGE_SEQ_LEN)
        _loaded[key] = Loaded(model, processor, settings_of(config, pre, seq), dtype, path, device)
        return _loaded[key]


def loaded_now() -> list[Loaded]:
    """The models this process holds already (their weights cost no new memory)."""
    with _lock:
        return list(_loaded.values())


# --- memory: whether an answer fits ----------------------------------------------------------------------------

HOSTED_LIMIT_BYTES = int(2.7 * 2**30)  # the hosted demo's memory (Streamlit Community Cloud)
HEADROOM_BYTES = 256 * 2**20  # what the page, Python and torch's allocator need besides the counted arrays


def memory_limit_bytes() -> int:
    """The memory this process may use: ``VITVIZ_MEMORY_LIMIT_MB`` when set, else the container's limit (cgroup),
    else the machine's RAM."""
    if os.environ.get("VITVIZ_MEMORY_LIMIT_MB"):
        return int(float(os.environ["VITVIZ_MEMORY_LIMIT_MB"]) * 2**20)
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_in_use_bytes() -> int:
    """This process's resident memory now (Linux ``/proc/self/statm``; 0 where it cannot be read)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def answer_bytes(s: Settings, crops: int, prompt_tokens: int, new_tokens: int, dtype: torch.dtype,
                 parameters: int, weights_loaded: bool) -> int:
    """What one answer needs, by a stated count: the weights (parameters × bytes, unless loaded already), the
    encoder's attention matrices and MLP activations for all crops at once and its eager attention for the one view
    opened up (float32), the
    language model's key/value cache (2 × layers × tokens × width) and its eager attention over the prompt
    (heads × tokens², scores and probabilities), plus a fixed headroom."""
    size = torch.finfo(dtype).bits // 8
    weights = 0 if weights_loaded else parameters * size
    patches = s.patches_side ** 2
    heads = s.encoder_width // 64  # SigLIP's heads are 64 numbers wide
    # every crop's attention matrix at once (CPU attention holds it, in float32), its MLP's 4× wider activations,
    # and the opened view's eager attention (scores and probabilities)
    encoder = (crops * heads * patches * patches * 4 + crops * patches * 4 * s.encoder_width * 4 * 2
               + heads * patches * patches * 4 * 2)
    tokens = prompt_tokens + new_tokens
    lm = 2 * s.lm_layers * tokens * s.lm_width * size + s.lm_heads * prompt_tokens ** 2 * 4 * 2
    return weights + encoder + lm + HEADROOM_BYTES


@dataclass(frozen=True)
class MemoryVerdict:
    fits: bool
    need: int  # bytes
    free: int  # bytes left under the limit now
    limit: int

    def sentence(self) -> str:
        gb = lambda b: f"{b / 2**30:.2f} GB"  # noqa: E731
        if self.fits:
            return f"An answer needs about {gb(self.need)}; {gb(self.free)} of this server's {gb(self.limit)} are free."
        return (f"Not offered on this server: an answer needs about {gb(self.need)} of memory, and only "
                f"{gb(self.free)} of its {gb(self.limit)} are free (the hosted demo has {gb(HOSTED_LIMIT_BYTES)} at "
                f"most). A shorter long side (section 1) needs less; or run vitviz on your own computer ({FETCH_COMMAND}).")


def memory_verdict(need: int, in_use: int, limit: int) -> MemoryVerdict:
    """The rule: an answer is offered when what it needs fits in what is left under the limit."""
    free = max(0, limit - in_use)
    return MemoryVerdict(need <= free, need, free, limit)
