"""torchrun entry of the restart test: process 1 kills itself with SIGKILL when it reaches update
``RNNKIT_TEST_KILL_AT`` in the first attempt; then it runs ``rnnkit`` as usual."""

import os, signal, sys
from rnnkit.train.loop import Trainer
K = int(os.environ["RNNKIT_TEST_KILL_AT"])
if os.environ.get("RANK") == "1" and os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0":
    real = Trainer.train_step
    def train_step(self, batch):
        if self.step == K:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, batch)
    Trainer.train_step = train_step
from rnnkit.cli.main import main
sys.exit(main(sys.argv[1:]))
