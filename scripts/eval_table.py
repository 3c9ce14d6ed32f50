from distillery.artifacts import read_json, write_text
from distillery.evaluate.tables import render
from distillery.runlog import job_log

with job_log(snakemake.log[0]) as log:
    p = snakemake.params
    scores = {(s["model"], s["benchmark"]): s for s in map(read_json, snakemake.input)}
    tables = render(p.table, scores, p.models, p.benchmarks, p.paper_models)
    for fmt, text in tables.items():
        write_text(text, snakemake.output[fmt])
    log.info("%s: %d benchmarks x %d models", p.table, len(p.benchmarks), len(p.models))
