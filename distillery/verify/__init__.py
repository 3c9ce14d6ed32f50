"""Verifiers: one per category, one interface (:func:`distillery.verify.score`)."""
