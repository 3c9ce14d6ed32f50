"""Bad config at the edges: found when the workflow is parsed, in a few lines that name the key (the schema's
errors, a missing file or model, a malformed hub id, another backend's settings), while the shipped
configs still parse."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from snakemake.utils import update_config

from distillery.plan.config_checks import ConfigError, check_config, is_hub_id
from distillery.plan.config_validation import validate_config
from workflow import REPO, copy_workflow, snakemake

SCHEMA = REPO / "schemas/config.schema.yaml"
MAX_LINES = 10
TOY_MODEL = "results/models/gemma3-270m"  # built by rule local_model: need not exist


def load(*files: str) -> dict:
    """The config as ``--configfile config.yaml <files>`` layers it."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for name in files:
        update_config(config, yaml.safe_load((REPO / name).read_text()))
    return config


def parse(config: dict) -> None:
    """What rules/common.smk does with the config."""
    validate_config(config, SCHEMA)
    check_config(config)


def error(override: dict) -> str:
    config = load()
    update_config(config, copy.deepcopy(override))
    with pytest.raises(ConfigError) as caught:
        parse(config)
    message = str(caught.value)
    assert len(message.splitlines()) <= MAX_LINES, message
    return message


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the config's relative paths are read from the working directory


def teacher(**entry) -> dict:
    return {"teachers": [{"name": "alpha", "backend": "transformers", "model": TOY_MODEL, **entry}]}


def test_a_typo_at_the_top_level_is_one_line_with_a_suggestion():
    assert error({"distil": {"seed": 1}}) == "config: unknown key 'distil' (did you mean 'distill'?)"
    message = error({"zzz": 1})
    assert message.startswith("config: unknown key 'zzz'\n  known keys: sources, benchmarks")


def test_a_wrong_enum_deep_in_a_teacher_names_its_key_path():
    message = error(teacher(backend="transformer"))
    assert message.splitlines()[0] == (
        "config: teachers[alpha].backend: 'transformer' is not one of "
        "['transformers', 'openai', 'vllm', 'dataset'] (did you mean 'transformers'?)"
    )
    assert message.splitlines()[1].startswith("  expected: transformers: a local model")


def test_a_long_offending_value_is_cut():
    message = error({"filters": {"too_short": {"min_chars": "x" * 500}}})
    assert message.startswith("config: filters.too_short.min_chars: 'xxx")
    assert "is not of type 'integer'" in message and len(message.splitlines()[0]) < 150


def test_a_choice_of_keys_says_which_would_do():
    assert error(teacher(backend="dataset", dataset={})).splitlines() == [
        "config: teachers[alpha].dataset: {} is not valid under any of the given schemas",
        "  expected one of the keys: paths, hf",
    ]


def test_a_missing_local_model_is_found_at_parse_time():
    message = error(teacher(model="/models/no-such-model"))
    assert message.splitlines()[0] == (
        "teachers[alpha].model: '/models/no-such-model' is neither a local path that exists nor a hub id (org/name)"
    )
    assert "working directory" in message.splitlines()[-1]
    assert error({"distill": {"judge": {"model": "./judges/missing"}}}).startswith("distill.judge.model: ")
    assert error({"train": {"base_model": "~/models/student"}}).splitlines()[0].endswith("(~ is not expanded)")


def test_a_dataset_teachers_missing_file_is_found_at_parse_time():
    release = {"backend": "dataset", "model": "a-m-team/AM-Thinking-v1"}
    message = error(teacher(**release, dataset={"paths": ["data/queries/math.jsonl", "releases/missing.jsonl"]}))
    assert message.splitlines()[0] == "teachers[alpha].dataset.paths[1]: 'releases/missing.jsonl' does not exist"


def test_every_missing_path_at_once_within_ten_lines():
    sources = [
        {"name": f"s{i}", "category": "math", "path": f"gone/{i}.jsonl", "fields": {"prompt": "p"}} for i in range(12)
    ]
    lines = error({"sources": sources}).splitlines()
    assert lines[0] == "sources[s0].path: 'gone/0.jsonl' does not exist"
    assert lines[-2] == "... and 4 more" and len(lines) == MAX_LINES


def test_another_backends_settings_are_an_error():
    assert error(teacher(openai={"base_url": "http://x/v1"})).startswith(
        "teachers[alpha].openai: settings of backend openai, but teachers[alpha] has backend transformers"
    )
    served = teacher(backend="openai", model="gpt-x", openai={"base_url": "http://x/v1"}, vllm={"max_model_len": 8})
    assert error(served).startswith(
        "teachers[alpha].vllm: settings of backend vllm, but teachers[alpha] has backend openai"
    )
    extra = {"name": "api", "model": "gpt-x", "backend": "openai", "openai": {"base_url": "u"}, "vllm": {}}
    assert error({"evaluate": {"extra_models": [extra]}}).startswith("evaluate.extra_models[api].vllm: ")
    assert (
        error(teacher(backend="openai", model="gpt-x")) == "teachers[alpha]: backend openai needs its 'openai' settings"
    )


def test_a_malformed_hub_id_is_an_error_naming_the_key():
    message = error(teacher(model="Qwen/Qwen2.5 7B"))
    assert message.splitlines()[0] == (
        "teachers[alpha].model: 'Qwen/Qwen2.5 7B' is neither a local path that exists nor a hub id (org/name)"
    )
    assert error({"embedding": {"model": "BAAI/bge--m3"}}).startswith("embedding.model: 'BAAI/bge--m3' is neither")
    config = load()  # an endpoint's model is only a name
    update_config(config, teacher(backend="openai", model="a served name", openai={"base_url": "http://x/v1"}))
    parse(config)


def test_hub_ids_follow_huggingface_hubs_rules_with_the_namespace_required():
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    for value in (
        "Qwen/Qwen2.5-32B",
        "a-m-team/AM-Thinking-v1",
        "BAAI/bge-m3",
        "org/x.y_z",
        "gpt2",
        "a/b/c",
        "org/name.git",
        "org/-name",
        "org/na..me",
        "org/na--me",
        "org/name ",
        "/abs/path",
        "org/" + "n" * 97,
    ):
        try:
            validate_repo_id(value)
            valid = "/" in value
        except HFValidationError:
            valid = False
        assert is_hub_id(value) == valid, value


def test_the_backends_settings_agree_with_the_schema_and_the_registry():
    from distillery.generation.registry import BACKENDS
    from distillery.plan.backend_settings import BACKEND_BLOCKS, LOCAL_MODEL_BACKENDS, REQUIRED_BLOCKS

    schema = yaml.safe_load(SCHEMA.read_text())
    entry = schema["properties"]["teachers"]["items"]["properties"]
    assert set(BACKEND_BLOCKS) == set(BACKENDS) == set(entry["backend"]["enum"])
    assert all(block in entry for block in BACKEND_BLOCKS.values() if block)
    assert set(REQUIRED_BLOCKS) <= set(BACKEND_BLOCKS.values()) and set(LOCAL_MODEL_BACKENDS) <= set(BACKENDS)
    evaluate = schema["properties"]["evaluate"]["properties"]
    for section in (evaluate["extra_models"]["items"], evaluate["student_backend"]):
        backends = set(section["properties"]["backend"]["enum"])
        assert backends <= set(BACKENDS)
        blocks = {BACKEND_BLOCKS[b] for b in backends} - {None}
        assert blocks <= set(section["properties"]), section  # each backend's block can be written there


def test_defaults_are_filled_in_as_snakemakes_validate_fills_them():
    from snakemake.utils import validate

    for files in ((), ("configs/paper.yaml",)):
        ours, snakemakes = load(*files), load(*files)
        validate_config(ours, SCHEMA)
        validate(snakemakes, str(SCHEMA))
        assert ours == snakemakes


@pytest.mark.parametrize("files", [(), ("configs/paper.yaml",), ("configs/paper.yaml", "configs/release.yaml")])
def test_the_shipped_configs_parse(files, tmp_path, monkeypatch):
    """Hub ids, the model the workflow builds, and configs/release.yaml's downloads (planted: the user
    fetches them first, and a missing one is reported)."""
    config = load(*files)
    if "configs/release.yaml" in files:
        with pytest.raises(ConfigError, match=r"releases/AM-Thinking-v1-Distilled/math.jsonl' does not exist"):
            parse(copy.deepcopy(config))
        monkeypatch.chdir(tmp_path)
        for source in config["sources"]:
            (tmp_path / source["path"]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / source["path"]).touch()
        for entry in config["teachers"]:
            for path in entry["dataset"]["paths"]:
                (tmp_path / path).mkdir(parents=True, exist_ok=True)
        for part in ("data", "configs"):  # the toy benchmarks (config.yaml's stay), the DeepSpeed config
            (tmp_path / part).symlink_to(REPO / part)
    parse(config)


@pytest.mark.workflow
def test_a_dry_run_reports_a_bad_config_in_a_few_lines(tmp_path):
    """Through Snakemake itself: the error, its frame lines and Snakemake's own, where a one-word typo
    printed 2,679 lines (the schema and the whole config)."""
    workdir = copy_workflow(tmp_path / "wf")
    cases = {
        "typo": ("distil: {seed: 1}\n", "config: unknown key 'distil' (did you mean 'distill'?)"),
        "model": (
            "teachers:\n  - {name: alpha, backend: vllm, model: /models/gone}\n",
            "teachers[alpha].model: '/models/gone' is neither a local path that exists nor a hub id (org/name)",
        ),
    }
    for name, (text, expected) in cases.items():
        (workdir / f"{name}.yaml").write_text(text)
        proc = snakemake(workdir, "-n", "--configfile", "config.yaml", f"{name}.yaml", check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and expected in out.splitlines(), out[-3000:]
        assert len(out.splitlines()) <= 15, out
        assert re.search(r"ConfigError in file .*common\.smk", out), out
