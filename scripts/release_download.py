from distillery.core.runlog import job_log
from distillery.distill.release_download import download

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        files = download(snakemake.params.hf, snakemake.output[0])
        log.info("%s: %d files: %s", snakemake.params.hf["id"], len(files), ", ".join(files))
