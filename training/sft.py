"""SFT entry for `accelerate launch` / `torchrun`: one curriculum stage, same flags as `spinemed train`.

    accelerate launch --config_file training/accelerate/zero2.yaml training/sft.py \
        --recipe training/recipes/spinegpt-7b/stage1.yaml

Everything happens in `spinemed.training` (recipes, data, guards, trainer, card, push); this
file only exists so the launch line names a script, as in alignment-handbook and open-r1.
"""

import sys

from spinemed.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
