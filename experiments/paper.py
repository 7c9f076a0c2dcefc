"""The paper's numbers, as data: He, Zhang, Ren and Sun, "Deep Residual Learning for Image
Recognition" (CVPR 2016, arXiv:1512.03385).

This file is the repository's one copy of them. The experiment tables (table2.py, table3.py,
table6.py) take their PAPER columns from here, the reports (report.py) cite this file, and
tests/test_models.py checks the model zoo against it. Errors are in percent; ImageNet errors are
on the 50k validation images, CIFAR-10 errors on the 10k test images.

Where a number is not printed in the paper it says so: the exact parameter counts are the
counts of the nets the paper describes (option B and 1000 classes on ImageNet, the same as
torchvision's; option A and 10 classes on CIFAR-10), which the paper rounds.
"""

from __future__ import annotations

CITATION = (
    'K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image Recognition", '
    "CVPR 2016 (arXiv:1512.03385)"
)

# --- Table 1 and Section 3.3: the ImageNet architectures -------------------------------------
# A 7x7/2 conv with 64 filters, a 3x3/2 max-pool, four stages (conv2_x..conv5_x) of widths 64,
# 128, 256, 512 (bottleneck outputs 4x that; stages 3-5 start with stride 2), global average
# pooling and a 1000-way fully connected layer.
IMAGENET_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4
IMAGENET_CLASSES = 1000
IMAGENET_BLOCKS = {  # residual blocks per stage, block type
    "resnet18": ((2, 2, 2, 2), "basic"),
    "resnet34": ((3, 4, 6, 3), "basic"),
    "resnet50": ((3, 4, 6, 3), "bottleneck"),
    "resnet101": ((3, 4, 23, 3), "bottleneck"),
    "resnet152": ((3, 8, 36, 3), "bottleneck"),
}
# Table 1, last row: multiply-adds per 224x224 image, x10^9. (The "v1.5" layout, with the
# bottleneck's stride on its 3x3 conv as torchvision has it, needs 4.1 for ResNet-50: not a
# number of the paper, which strides the first 1x1.)
GFLOPS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}
GFLOPS_V15 = {"resnet50": 4.1}
GFLOPS_TOLERANCE = 0.03  # relative: the paper prints two significant figures

# --- Section 4.2: the CIFAR-10 architectures ---------------------------------------------------
# A 3x3 conv with 16 filters, then 3 stages of n basic blocks (2n 3x3 layers) with 16, 32 and 64
# filters on 32x32, 16x16 and 8x8 maps, global average pooling and a 10-way fully connected
# layer: 6n + 2 weighted layers. Shortcuts are option A (zero-padding identity).
CIFAR_WIDTHS = (16, 32, 64)
CIFAR_CLASSES = 10
CIFAR_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18,
                "resnet1202": 200}  # fmt: skip

# --- Trainable parameters, exact --------------------------------------------------------------
# ImageNet nets with option B and 1000 classes (the same as torchvision's counts); CIFAR-10
# nets with option A and 10 classes. Plain twins of the CIFAR nets have the same counts (option
# A adds no parameters).
PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
}
# Table 6's "# params" column, in millions, as printed.
TABLE6_PARAMS_M = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85,
                   "resnet110": 1.7, "resnet1202": 19.4}  # fmt: skip
# keras.applications' ResNet50 totals 25,636,712: its convs have biases and its total also
# counts BN's moving statistics.
KERAS_APPLICATIONS_RESNET50_TOTAL = 25_636_712

# --- Table 2: ImageNet validation top-1 error, 10-crop; the ResNets use option A --------------
TABLE2_TOP1 = {"plain18": 27.94, "plain34": 28.54, "resnet18": 27.88, "resnet34": 25.03}

# --- Table 3: ImageNet validation error, 10-crop, top-1 and top-5 -----------------------------
TABLE3_TOP1 = {
    "plain34": 28.54,
    "resnet34_A": 25.03,
    "resnet34_B": 24.52,
    "resnet34_C": 24.19,
    "resnet50": 22.85,
    "resnet101": 21.75,
    "resnet152": 21.43,
}
TABLE3_TOP5 = {
    "plain34": 10.02,
    "resnet34_A": 7.76,
    "resnet34_B": 7.46,
    "resnet34_C": 7.40,
    "resnet50": 6.71,
    "resnet101": 6.05,
    "resnet152": 5.71,
}

# --- Table 4: single model, fully convolutional multi-scale testing, top-1 and top-5 ----------
# Shorter sides {224, 256, 384, 480, 640}, scores averaged (Section 3.4). ResNet-34 A is not in it.
TABLE4_SCALES = (224, 256, 384, 480, 640)
TABLE4_TOP1 = {
    "resnet34_B": 21.84,
    "resnet34_C": 21.53,
    "resnet50": 20.74,
    "resnet101": 19.87,
    "resnet152": 19.38,
}
TABLE4_TOP5 = {
    "resnet34_B": 5.71,
    "resnet34_C": 5.60,
    "resnet50": 5.25,
    "resnet101": 4.60,
    "resnet152": 4.49,
}

# --- Table 6: CIFAR-10 test error ---------------------------------------------------------------
# ResNet-110's 6.43 is the best of 5 runs; their mean and standard deviation are below. The
# plain nets have no printed numbers (Figure 6 shows them as curves).
TABLE6_ERROR = {
    "resnet20": 8.75,
    "resnet32": 7.51,
    "resnet44": 7.17,
    "resnet56": 6.97,
    "resnet110": 6.43,
    "resnet1202": 7.93,
}
TABLE6_RESNET110_RUNS = 5
TABLE6_RESNET110_MEAN = 6.61
TABLE6_RESNET110_STD = 0.16

# --- Figures 1, 4, 6 and 7: claims with no table ------------------------------------------------
# Figure 1/4/6: the degradation problem. Deeper plain nets have higher training error (and test
# error) than shallower ones: plain-56 above plain-20 on CIFAR-10, plain-34 above plain-18 on
# ImageNet; the ResNets' error goes down with depth.
DEGRADATION = {"cifar10": ("plain20", "plain56"), "imagenet": ("plain18", "plain34")}
# Figure 7: the standard deviation of each 3x3 layer's response on CIFAR-10 (after BN, before
# the addition and the nonlinearity) is smaller for ResNets than for their plain twins, and
# smaller for deeper ResNets. The nets it plots:
FIGURE7_MODELS = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")
FIGURE7_CLAIMS = (
    "ResNets have generally smaller responses than their plain counterparts.",
    "The deeper ResNet has smaller magnitudes of responses.",
)

# --- The settings the paper's numbers were measured in ------------------------------------------
# A run's number stands beside the paper's only when the run matches every entry (the rule is
# experiments/comparable.py's). "steps" are SGD iterations at "batch_size"; "test_images" is the
# test set the error is measured on (ImageNet: the 50k validation images; CIFAR-10: the 10k test
# images); "protocol" the test-time views of the paper's column.
# ImageNet (Section 3.4): batch 256, lr 0.1 "divided by 10 when the error plateaus", "trained
# for up to 60 x 10^4 iterations"; Tables 2 and 3 in 10-crop testing.
IMAGENET_SETTING = {
    "dataset": "imagenet2012",
    "scale": 1.0,
    "batch_size": 256,
    "lr_schedule": "plateau",
    "steps": 600_000,
    "test_images": 50_000,
    "protocol": "10-crop",
}
# CIFAR-10 (Section 4.2): batch 128, lr 0.1 divided by 10 at 32k and 48k iterations, stopped at
# 64k, trained on all 50k training images (val_split 0), single view on the 10k test images.
CIFAR_SETTING = {
    "dataset": "cifar10",
    "scale": 1.0,
    "batch_size": 128,
    "lr_schedule": "step",
    "lr_boundaries": (0.5, 0.75),
    "steps": 64_000,
    "val_split": 0,
    "test_images": 10_000,
    "protocol": "single view",
}
