"""Table 3: ResNet-34 with shortcut options A, B and C, then ResNet-50/101/152 (option B), on
ImageNet (paper Sections 3.3 and 4.1). Recipe: `experiments/imagenet.py`.

Config names: resnet34_A, resnet34_B, resnet34_C, resnet50, resnet101, resnet152.

    python -m experiments.run table3 --config.dataset=imagenet2012
    keras-resnet-train --config=experiments/table3.py:resnet34_C --workdir=runs/t3/r34c

Paper (ImageNet val top-1 / top-5 error %, 10-crop): ResNet-34 A 25.03 / 7.76, B 24.52 / 7.46,
C 24.19 / 7.40; ResNet-50 22.85 / 6.71, ResNet-101 21.75 / 6.05, ResNet-152 21.43 / 5.71.
"""

from keras_resnet.configs import imagenet

TITLE = "Table 3: ImageNet top-1 error, shortcut options and deeper nets"
MODELS = ("resnet34_A", "resnet34_B", "resnet34_C", "resnet50", "resnet101", "resnet152")
PAPER = {
    "resnet34_A": 25.03,
    "resnet34_B": 24.52,
    "resnet34_C": 24.19,
    "resnet50": 22.85,
    "resnet101": 21.75,
    "resnet152": 21.43,
}
PAPER_TOP5 = {
    "resnet34_A": 7.76,
    "resnet34_B": 7.46,
    "resnet34_C": 7.40,
    "resnet50": 6.71,
    "resnet101": 6.05,
    "resnet152": 5.71,
}
DEFAULT_DATASET = "imagenet2012"


def get_config(name: str | None = None):
    model, _, shortcut = (name or "resnet34_B").partition("_")
    config = imagenet.get_config(model)
    if shortcut:
        if shortcut.upper() not in ("A", "B", "C"):
            raise ValueError(f"Unknown Table 3 config {name!r}; choose one of {MODELS}.")
        config.shortcut = shortcut.upper()
    return config
