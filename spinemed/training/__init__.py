"""SpineGPT training: the three-stage curriculum SFT on SpineMed-450k with TRL.

`recipe` parses the per-stage YAML recipes, `data` turns SpineMed rows (and other datasets)
into TRL's vision-language format and builds each stage's mixture, `guards` holds the
decontamination check and the ZeRO-3 vision-tower keep-alive, `trainer` runs a stage,
`card` renders the model card and `push` sends a stage to its Hub branch and tags it.
"""

from .data import to_trl_example

__all__ = ["to_trl_example"]
