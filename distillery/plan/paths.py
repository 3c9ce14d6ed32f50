"""Where the workflow's artifacts live: the ``results/`` layout, named once.

Rules declare their inputs and outputs with these names; code that runs inside a job never builds a
path under ``results/`` itself, it gets its paths from Snakemake.
"""

from __future__ import annotations

RESULTS = "results"
MODELS = f"{RESULTS}/models"  # models the workflow builds itself
LOCAL_MODEL = f"{MODELS}/gemma3-270m"  # rule local_model: the offline stand-in model
QUERIES = f"{RESULTS}/queries"
QUERY_SHARD = f"{QUERIES}/shards/{{shard}}.parquet"
DISTILL = f"{RESULTS}/distill"
RELEASE_INDEX = f"{DISTILL}/{{teacher}}/release/index.parquet"  # a dataset teacher's release, indexed
RELEASE_DOWNLOAD = f"{RESULTS}/releases/{{teacher}}"  # a release from the hub (dataset.hf)
ATTEMPTS = f"{DISTILL}/{{teacher}}/{{shard}}.parquet"
CORPORA = f"{RESULTS}/corpora"
TEACHER_CORPUS = f"{CORPORA}/{{teacher}}.parquet"
PARALLEL_CORPUS = f"{CORPORA}/parallel/{{teacher}}.parquet"
EXPORT = f"{RESULTS}/export"
STATS = f"{RESULTS}/stats"
FIGURES = f"{RESULTS}/figures"
TABLES = f"{RESULTS}/tables"
TRAIN = f"{RESULTS}/train"
STUDENT_MODEL = f"{TRAIN}/{{teacher}}/model"
LOSS_HISTORY = f"{TRAIN}/{{teacher}}/log_history.jsonl"
EVAL = f"{RESULTS}/eval"
EVAL_PROBLEMS = f"{EVAL}/problems"  # so "problems" cannot name an evaluated model
DIGESTS = ".snakemake/digests"  # the content digests of this checkout's files (plan/content_digests.py)


def shard_names(num_shards: int) -> list[str]:
    """The names of ``num_shards`` shards (of queries, of perplexity jobs, of an evaluation), known before
    any data is read."""
    return [f"{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


# A shard's name as a wildcard constraint: a pattern, not the list of the shards, which Snakemake would copy
# into every output pattern it fills in (2,000 alternatives: a sixth of a paper-scale DAG's time,
# bench/dag.py). Consumers ask only for the shards there are.
SHARD_PATTERN = r"\d+-of-\d+"


def query_shards(shards: list[str]) -> list[str]:
    return [QUERY_SHARD.format(shard=s) for s in shards]


def attempt_files(teacher: str, shards: list[str]) -> dict[str, str]:
    """shard -> the teacher's attempts file of that shard."""
    return {s: ATTEMPTS.format(teacher=teacher, shard=s) for s in shards}


def training_corpus(mode: str, teacher: str) -> str:
    """The corpus a student of ``teacher`` trains on (and the export holds): the parallel corpus (the
    queries every teacher answered, the paper's setting) or, with ``corpus.mode: union``, all of that
    teacher's responses that passed verification and quality assurance."""
    return (PARALLEL_CORPUS if mode == "parallel" else TEACHER_CORPUS).format(teacher=teacher)


def built_by_workflow(*models: str) -> list[str]:
    """Those of ``models`` (model folders, tokenizers: config values) that the workflow builds itself, a
    converted local model or a trained student: inputs of the rules that use them, so that they are built
    first and a rebuilt one is used again."""
    return sorted({m.rstrip("/") for m in models if m and is_built(m)})


def is_built(path: str) -> bool:
    """Whether the workflow builds ``path`` (a config value) itself, so that it need not exist yet."""
    return path.startswith(f"{RESULTS}/")
