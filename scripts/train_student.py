import shutil

from distillery.core.model_resolution import resolve_model
from distillery.core.runlog import job_log
from distillery.train.launch import STOPPED_EXIT_CODE, launch, write_spec

if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        # the recipe is the rule's params (a rerun trigger); how the run executes comes from the config
        train = {**snakemake.config["train"], **snakemake.params.recipe, "threads": snakemake.threads}
        checkpoints = snakemake.params.checkpoints
        spec = write_spec(
            teacher=snakemake.wildcards.teacher,
            corpus=snakemake.input.corpus,
            base_model=resolve_model(train["base_model"]),
            model_dir=snakemake.output.model,
            log_history=snakemake.output.log_history,
            report=snakemake.output.report,
            checkpoints=checkpoints,
            train=train,
        )
        code = launch(spec, threads=snakemake.threads)
        if code == STOPPED_EXIT_CODE:
            raise SystemExit(
                f"training stopped on a signal after saving a checkpoint in {checkpoints}; rerun to resume"
            )
        if code:
            raise SystemExit(
                f"training failed (exit code {code}); a rerun resumes from the last checkpoint in {checkpoints}"
            )
        if not train["keep_checkpoints"]:
            shutil.rmtree(checkpoints)
            log.info("removed %s (train.keep_checkpoints is false)", checkpoints)
