"""Query preparation (``rules/queries.smk``): sources -> dedup -> filters -> embeddings ->
decontamination -> shards, every removed row kept with its reason, and the report of it all."""
