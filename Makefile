# make env: install the Debian packages it needs when missing (python3-venv; bubblewrap, the sandbox
# of untrusted code, which runs it with Debian's /usr/bin/python3; g++, which compiles C++ answers in that
# sandbox; slurmctld, slurmd, the SLURM client
# commands and munge, a real single-node SLURM for tests/test_slurm.py) and create or update .venv
# (idempotent: apt runs only when something is missing). make run: the whole workflow on config.yaml.
# make test: the test suite. Versions are pinned in pyproject.toml only.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := $(shell grep -oE '"torch==[^"]+"' pyproject.toml | tr -d '"')
CORES ?= 2

.PHONY: env sysdeps run test bench clean

env: sysdeps $(VENV)/.installed

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

run: env
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) all

test: env
	$(BIN)/python -m pytest

bench: env
	$(BIN)/python bench/prep.py

clean:
	rm -rf results logs .snakemake
