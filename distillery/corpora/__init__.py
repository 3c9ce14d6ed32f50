"""Corpora (``rules/corpora.smk``): each teacher's accepted responses after quality assurance (structure,
repetition, perplexity), the parallel corpora the students train on, and the a-m-team-format export."""
