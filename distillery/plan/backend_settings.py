"""What each generation backend reads from a model entry (a teacher, an evaluated model): named once, for
the config checks and the rules. The backends themselves are built in
:mod:`distillery.generation.registry` (``tests/test_config_errors.py`` checks that both and the schema's
``backend`` enums agree)."""

from __future__ import annotations

# backend -> the settings block it reads (None: none). A block of another backend on an entry would be
# ignored without a word, so the config checks make it an error.
BACKEND_BLOCKS = {"transformers": None, "openai": "openai", "vllm": "vllm", "dataset": "dataset"}
REQUIRED_BLOCKS = ("openai", "dataset")  # a backend that cannot run without its block
# Backends that load ``model`` as weights (a folder or a hub id); openai's is the served name, dataset's a label.
LOCAL_MODEL_BACKENDS = ("transformers", "vllm")
