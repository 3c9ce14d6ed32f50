"""What runs while Snakemake parses the workflow: everything ``rules/*.smk`` imports.

Every cluster job parses the Snakefile again, so this package stays light: no torch, transformers or
vLLM (``tests/test_plan.py`` parses the workflow and checks). It is also the only Python code that knows
where artifacts live (:mod:`.paths`); code that runs inside jobs gets its paths from Snakemake.
"""
