"""Table 3: ResNet-34 with shortcut options A, B and C, then ResNet-50/101/152 (option B), on
ImageNet (paper Sections 3.3 and 4.1). Recipe: `keras_resnet/configs/imagenet.py`
(its 90-epoch step schedule; the second command is its `plateau` recipe, the paper's: only
runs of that setting stand beside the paper's numbers in the report, experiments/comparable.py).

Config names: resnet34_A, resnet34_B, resnet34_C, resnet50, resnet101, resnet152.

    python -m experiments.run table3 --config.dataset=imagenet2012
    python -m experiments.run table3 --config.lr_schedule=plateau --config.train_steps=600000 \
        --config.num_epochs=0 --config.data.val_split=50000   # the paper's setting
    keras-resnet-train --config=experiments/table3.py:resnet34_C --workdir=runs/t3/r34c

Paper (ImageNet val top-1 / top-5 error %, 10-crop): ResNet-34 A 25.03 / 7.76, B 24.52 / 7.46,
C 24.19 / 7.40; ResNet-50 22.85 / 6.71, ResNet-101 21.75 / 6.05, ResNet-152 21.43 / 5.71.
Multi-scale (Table 4, top-1 %): ResNet-34 B 21.84, C 21.53; ResNet-50 20.74, -101 19.87,
-152 19.38. experiments.run evaluates every finished row both ways and reports each protocol
in its own column beside the paper's matching number.
"""

from experiments import paper
from keras_resnet.configs import imagenet

TITLE = "Table 3: ImageNet top-1 error, shortcut options and deeper nets"
MODELS = ("resnet34_A", "resnet34_B", "resnet34_C", "resnet50", "resnet101", "resnet152")
# The paper's Table 3 rows for these models (its plain-34 row belongs to Table 2's comparison).
PAPER = {name: paper.TABLE3_TOP1[name] for name in MODELS}
PAPER_TOP5 = {name: paper.TABLE3_TOP5[name] for name in MODELS}
# The setting PAPER was measured in: only runs that match it stand beside it unqualified.
PAPER_SETTING = paper.IMAGENET_SETTING
DEFAULT_DATASET = "imagenet2012"
# How experiments.run evaluates each finished row, beside results.json's centre crop: the
# paper's Table 3 protocol (10-crop) and Table 4's (fully convolutional, multi-scale).
EVAL_MODES = ("10crop", "multiscale")
PAPER_MODE = "10crop"  # the protocol of PAPER / PAPER_TOP5
# Table 4, single model, multi-scale testing (top-1 %); ResNet-34 A was not reported there.
PAPER_MULTISCALE = paper.TABLE4_TOP1


def get_config(name: str | None = None):
    model, _, shortcut = (name or "resnet34_B").partition("_")
    config = imagenet.get_config(model)
    if shortcut:
        if shortcut.upper() not in ("A", "B", "C"):
            raise ValueError(f"Unknown Table 3 config {name!r}; choose one of {MODELS}.")
        config.shortcut = shortcut.upper()
    return config
