"""A tiny SmolVLM for tests: the real architecture (transformers' Idefics3 classes, as SmolVLM-256M-Instruct's
config names them) at toy sizes with random weights, its real processor classes with toy settings, and a tiny
byte-level tokenizer with the real special tokens (the real tokenizer's files are on the hub only)."""

from __future__ import annotations

import copy
from pathlib import Path

from vitviz.model import smolvlm
from vitviz.model.smolvlm import settings_of

SPECIALS = (["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<global-img>"]
            + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
            + ["<fake_token_around_image>", "<image>", "<end_of_utterance>"])

# 64-px crops of 8-px patches: an 8×8 patch grid; pixel shuffle by 4 (as the real model) leaves 2×2 = 4 tokens.
PREPROCESSOR = dict(smolvlm.PREPROCESSOR, size={"longest_edge": 128}, max_image_size={"longest_edge": 64})
IMAGE_SEQ_LEN = 4


def tokenizer():
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tk = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "fake_image_token": "<fake_token_around_image>",
                              "global_image_token": "<global-img>", "end_of_utterance_token": "<end_of_utterance>"})


def config(tok) -> dict:
    c = copy.deepcopy(smolvlm.CONFIG)
    v = len(tok)
    c.update(image_token_id=tok.convert_tokens_to_ids("<image>"), vocab_size=v)
    c["text_config"].update(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, head_dim=12, vocab_size=v, max_position_embeddings=512,
                            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    c["vision_config"].update(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=64, patch_size=8)
    return c


def processor(tok):
    from transformers import Idefics3ImageProcessor, Idefics3Processor

    return Idefics3Processor(image_processor=Idefics3ImageProcessor(**PREPROCESSOR), tokenizer=tok,
                             image_seq_len=IMAGE_SEQ_LEN, chat_template=smolvlm.CHAT_TEMPLATE)


def build(seed: int = 0):
    """(model, processor, settings, config dict)."""
    tok = tokenizer()
    cfg = config(tok)
    model = smolvlm.random_model(cfg, seed=seed)
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, processor(tok), settings_of(cfg, PREPROCESSOR, IMAGE_SEQ_LEN), cfg


def save(folder: Path, seed: int = 0) -> Path:
    """The tiny model written as a fetched model folder (config, weights, processor, tokenizer)."""
    model, proc, _, _ = build(seed)
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder


