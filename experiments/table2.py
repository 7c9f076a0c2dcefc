"""Table 2: plain-18/34 against ResNet-18/34 on ImageNet (paper Section 4.1, Figure 4).

The ResNets of this table use option A shortcuts ("identity mapping for all shortcuts and
zero-padding for increasing dimensions"), so they have no more parameters than the plain nets.
Recipe: `keras_resnet/configs/imagenet.py`
(its 90-epoch step schedule; the second command is its `plateau` recipe, the paper's: only
runs of that setting stand beside the paper's numbers in the report, experiments/comparable.py).

    python -m experiments.run table2 --config.dataset=imagenet2012
    python -m experiments.run table2 --config.lr_schedule=plateau --config.train_steps=600000 \
        --config.num_epochs=0 --config.data.val_split=50000   # the paper's setting
    keras-resnet-train --config=experiments/table2.py:plain34 --workdir=runs/t2/plain34

Paper (ImageNet val top-1 error %, 10-crop): plain-18 27.94, plain-34 28.54, ResNet-18 27.88,
ResNet-34 25.03. The claim: plain-34 is worse than plain-18 (degradation) while ResNet-34 is
better than ResNet-18.
"""

from experiments import paper
from keras_resnet.configs import imagenet

TITLE = "Table 2: ImageNet top-1 error, plain vs residual"
MODELS = ("plain18", "plain34", "resnet18", "resnet34")
PAPER = paper.TABLE2_TOP1
# The setting PAPER was measured in: only runs that match it stand beside it unqualified.
PAPER_SETTING = paper.IMAGENET_SETTING
DEFAULT_DATASET = "imagenet2012"
# experiments.run evaluates each finished row with the paper's protocol (10-crop), beside
# results.json's centre crop; the paper reports Table 2 in 10-crop only.
EVAL_MODES = ("10crop",)
PAPER_MODE = "10crop"  # the protocol of PAPER


def get_config(model: str | None = None):
    config = imagenet.get_config(model or "resnet34")
    if config.model.startswith("resnet"):
        config.shortcut = "A"
    return config
