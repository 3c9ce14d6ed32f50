"""Student training (``rules/train.smk``): supervised fine-tuning of one student per teacher.

:mod:`.sft_data` turns corpus rows into prompt/completion token sequences with final-turn labels;
:mod:`.trainer` runs TRL's SFTTrainer (packing, DeepSpeed, resume, final save); :mod:`.launch` writes the
run spec and starts the worker the way the hardware needs (python, torchrun, accelerate, deepspeed; srun
across nodes). ``python -m distillery.train --config run.json`` is the worker every launcher starts. The
recipe and its checks are resolved when the workflow is parsed (:mod:`distillery.plan.training_recipe`).
"""
