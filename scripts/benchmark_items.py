import pyarrow as pa

from distillery.artifacts import write_parquet
from distillery.benchmarks import load_items
from distillery.runlog import job_log

with job_log(snakemake.log[0]) as log:
    tables = [load_items(name, spec) for name, spec in snakemake.params.benchmarks.items()]
    for t in tables:
        log.info("%s: %d items", t.column("benchmark")[0], len(t))
    write_parquet(pa.concat_tables(tables), snakemake.output[0])
