"""Distillation (``rules/distill.smk``): every teacher on every shard, verify and retry; and the offline
stand-in model the embedded default distils with."""
