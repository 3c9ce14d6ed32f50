"""Foundations every stage uses: artifact files, Arrow schemas, canonical ids, job logs, model
resolution and identity, the paper's prompts and numbers. Light: no torch at import."""
