"""Evaluation of the students (and any other model) on the paper's benchmarks, and the paper's tables.

One idea per module: :mod:`.benchmarks` turns a benchmark's rows into problems with prompts and
references; :mod:`.models` says which models are evaluated and how each is built; :mod:`.generate`
samples n responses per problem through a backend and the generation cache; :mod:`.grade` marks each
response correct or not with the verifiers; :mod:`.passk` turns marks into pass@k and the other scores;
:mod:`.tables` writes Table 1 and Table 2 with the paper's numbers beside ours.
"""
