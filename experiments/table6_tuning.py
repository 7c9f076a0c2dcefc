"""Table 6's tuning split: the CIFAR-10 recipe on 45k training images, validated on the other 5k.

The paper chose its schedule this way (Section 4.2: "These models are trained with a minibatch
size of 128 ... on a 45k/5k train/val split. We use ... 64k iterations, which is determined on
a 45k/5k train/val split"). Its reported Table 6 numbers are NOT on this split: they train on
all 50k images (experiments/table6.py). Use this table to tune a recipe without looking at the
test set: its curves and checkpoint selection use the 5k validation images, and the test error
it reports is of nets that saw 10% less data than the paper's.

    python -m experiments.run table6_tuning --models=resnet20,resnet56
    keras-resnet-train --config=experiments/table6_tuning.py:resnet110 --workdir=runs/t6tune/r110

Paper: no numbers for the validation split (only the schedule it chose: lr 0.1, divided by
10 at 32k and 48k iterations, stopped at 64k).
"""

from experiments import table6

TITLE = "Table 6 tuning split (45k train / 5k validation): CIFAR-10"
MODELS = table6.MODELS
PAPER = {}  # the paper reports no numbers on its tuning split
DEFAULT_DATASET = table6.DEFAULT_DATASET
VAL_SPLIT = 5_000  # the last 5k training images, held out the same way on every run


def get_config(model: str | None = None):
    config = table6.get_config(model)
    config.data.val_split = VAL_SPLIT
    return config
