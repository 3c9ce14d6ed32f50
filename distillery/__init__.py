"""Distillery: distillation-source study as a Snakemake workflow."""
