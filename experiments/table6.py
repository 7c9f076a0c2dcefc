"""Table 6: CIFAR-10 ResNets and plain nets of depth 20-1202 (paper Section 4.2, Figure 6).

The full recipe of `keras_resnet/configs/cifar10.py` (64k iterations, lr 0.1 divided at 32k and 48k,
warm-up for 110/1202 layers), as the paper reports it: trained on all 50k training images and
tested on the 10k test images, with the curves showing test error against iterations (Figure
6). The paper used a 45k/5k train/val split only to choose that schedule; that split is
`experiments/table6_tuning.py`, a separate table whose curves show validation error.

    python -m experiments.run table6                          # every row, one after another
    python -m experiments.run table6 --models=resnet20 --config.scale=0.05   # a shrunk smoke run
    keras-resnet-train --config=experiments/table6.py:resnet56 --workdir=runs/t6/resnet56

Paper (test error %): ResNet-20 8.75, -32 7.51, -44 7.17, -56 6.97, -110 6.43 (best of 5;
mean 6.61 +- 0.16), -1202 7.93. Plain nets get worse with depth (Figure 6, left): no
numbers are printed for them, so the report compares their trend instead.
"""

from experiments import paper
from keras_resnet.configs import cifar10

TITLE = "Table 6: CIFAR-10 test error"
MODELS = (
    "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
    "plain20", "plain32", "plain44", "plain56", "plain110",
)  # fmt: skip
# Paper's test top-1 error (%); the plain nets are absent: the paper shows only their curves.
PAPER = paper.TABLE6_ERROR
# The setting PAPER was measured in: only runs that match it stand beside it unqualified.
PAPER_SETTING = paper.CIFAR_SETTING
DEFAULT_DATASET = "cifar10"


def get_config(model: str | None = None):
    # No validation split: the reported nets train on the whole training set (Section 4.2),
    # and nothing is selected on the test set (only the final model is reported).
    return cifar10.get_config(model or "resnet20")
