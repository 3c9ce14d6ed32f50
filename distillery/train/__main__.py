"""The training worker: ``python -m distillery.train --config run.json``, started once per process by
the launcher (python, torchrun, accelerate or deepspeed; the last passes ``--local_rank``)."""

import argparse
import logging
import sys
import warnings

from distillery.core.artifacts import read_json
from distillery.train.trainer import run

parser = argparse.ArgumentParser(prog="python -m distillery.train")
parser.add_argument("--config", required=True, help="run spec written by distillery.train.launch.write_spec")
parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help="set by launchers; LOCAL_RANK is used")
options = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# DeepSpeed's ZeRO calls torch.distributed functions that torch 2.13 deprecates, once per parameter group
warnings.filterwarnings("ignore", message=r"`torch\.distributed\.\w+` is deprecated", category=FutureWarning)
sys.exit(run(read_json(options.config)))
