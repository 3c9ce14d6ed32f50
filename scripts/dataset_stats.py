from distillery.analysis import dataset_stats
from distillery.analysis.stats_view import read_stats
from distillery.core.artifacts import atomic_path, write_text
from distillery.core.runlog import job_log

if __name__ == "__main__":
    with job_log(snakemake.log[0]):
        p = snakemake.params
        stats = read_stats(snakemake.input)
        table = dataset_stats.table(stats, p.teachers, p.paper_teachers, p.context["corpus"])
        with atomic_path(snakemake.output.csv) as tmp:
            table.to_csv(tmp, index=False, float_format="%.10g")
        write_text(dataset_stats.markdown(table, stats, p.teachers, p.context), snakemake.output.md)
