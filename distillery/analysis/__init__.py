"""Analysis (``rules/analysis.smk``): per-sample statistics of every teacher's distillation, the paper's
figures and dataset statistics beside its numbers."""
