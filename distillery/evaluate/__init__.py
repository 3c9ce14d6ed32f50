"""Evaluation (``rules/evaluate.smk``): the students (and any other model) on the paper's benchmarks, and
the paper's tables.

:mod:`.problems` turns a benchmark's rows into problems with prompts and references; :mod:`.samples`
draws n responses per problem through a backend and the generation cache; :mod:`.grading` marks each
response with the verifiers; :mod:`.passk` turns marks into pass@k and the other scores; :mod:`.tables`
writes Table 1 and Table 2 with the paper's numbers beside ours. Which models are evaluated is decided
when the workflow is parsed (:mod:`distillery.plan.evaluated_models`).
"""
