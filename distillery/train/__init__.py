"""Student training: supervised fine-tuning of one student per teacher on that teacher's corpus.

``config`` resolves the recipe (batch arithmetic, precision, what makes a checkpoint resumable),
``data`` turns corpus rows into prompt/completion token sequences with final-turn labels, ``trainer``
runs TRL's SFTTrainer (packing, DeepSpeed, resume, final save), ``launch`` builds the launcher command
(python, torchrun, accelerate, deepspeed; srun across nodes) and ``loss_curves`` draws Fig. 6.
``python -m distillery.train --config run.json`` is the worker every launcher starts.
"""
