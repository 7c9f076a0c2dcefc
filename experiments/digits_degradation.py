"""The paper's central claim, offline on a 2-core CPU: the degradation problem (Section 4.1,
Figure 1 and Figure 6) and its cure by residual learning.

Plain-20, plain-56, ResNet-20 and ResNet-56 train on the bundled `digits` data (scikit-learn's
1,797 handwritten digits, upscaled to 32x32 RGB) with the CIFAR-10 recipe and the same budget
each: lr 0.1 divided by 10 at 50% and 75% of the run, coupled weight decay 1e-4, 4-pixel
pad-and-crop (no flips: a flipped digit is another symbol), 30 epochs at batch 32 (1,340
iterations). The paper's recipe is per iteration (lr 0.1 for batch 128, Section 4.2); with only
1,437 training images, batch 128 gives 11 iterations an epoch, and 330 iterations proved too few
for ResNet-56 to converge (experiments/results/digits_degradation_b128.md: 43% training error),
so the batch is 32 at the same lr 0.1: four times the iterations for the same images seen.

    make experiment TABLE=digits_degradation          # about 30 minutes on 2 CPU cores
    python -m experiments.run digits_degradation --models=plain20,plain56

The question (the paper's Figure 6): does plain-56 end with a higher *training* error than
plain-20, while ResNet-56 does not? The committed report, experiments/results/
digits_degradation.md, answers with the numbers measured here.
"""

from keras_resnet.configs import cifar10

TITLE = "Degradation on digits: plain vs residual, 20 vs 56 layers"
MODELS = ("plain20", "plain56", "resnet20", "resnet56")
PAPER = {}  # the paper has no digits numbers; the claim compared is the depth trend
DEFAULT_DATASET = "digits"
EPOCHS = 30  # the same budget for every net: 30 epochs of 44 steps
BATCH = 32


def get_config(model: str | None = None):
    config = cifar10.get_config(model or "plain56")
    config.dataset = DEFAULT_DATASET
    config.num_epochs = EPOCHS
    config.batch_size = BATCH
    config.lr_reference_batch = BATCH  # lr 0.1 per iteration, as the paper's 0.1 at batch 128
    config.data.shuffle_buffer = 2_000
    config.warmup = "none"  # the budget is the same for every net, warm-up included
    config.backup_every_steps = 50
    return config
