from distillery.core.artifacts import read_json, write_text
from distillery.core.runlog import job_log
from distillery.evaluate.tables import render

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        p, table = snakemake.params, snakemake.wildcards.table
        scores = {(s["model"], s["benchmark"]): s for s in map(read_json, snakemake.input)}
        tables = render(table, scores, p.models, p.benchmarks, p.paper_models)
        for fmt, text in tables.items():
            write_text(text, snakemake.output[fmt])
        log.info("%s: %d benchmarks x %d models", table, len(p.benchmarks), len(p.models))
