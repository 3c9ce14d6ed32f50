from distillery.core.artifacts import read_json
from distillery.core.runlog import job_log
from distillery.corpora.export import dataset_card, export_corpus, write_card

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        teacher, settings = snakemake.params.teacher, snakemake.params.settings
        summary = export_corpus(snakemake.input.corpus, snakemake.output[0], teacher, settings["rows_per_file"])
        write_card(
            snakemake.output[0],
            dataset_card(teacher, summary, read_json(snakemake.input.report), settings, snakemake.params.mode),
        )
        log.info("%s: %d samples in %d files", teacher["name"], summary["samples"], len(summary["files"]))
