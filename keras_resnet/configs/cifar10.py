"""CIFAR-10 recipe of the paper, Section 4.2 (Table 6, Figure 6).

Run (the part after the colon picks the model; any 6n+2 depth works):

    keras-resnet-train --config=keras_resnet/configs/cifar10.py:resnet110 --workdir=runs/resnet110
    keras-resnet-train --model=resnet110 --workdir=runs/resnet110   # the same: this recipe
    make train MODEL=resnet56                                       # the same through make

Expected CIFAR-10 test error (Table 6): ResNet-20 8.75%, -32 7.51%, -44 7.17%, -56 6.97%,
-110 6.43% (best of 5; mean 6.61 +- 0.16), -1202 7.93%.

- SGD, momentum 0.9, batch 128, learning rate 0.1, divided by 10 at 32k and 48k iterations,
  stopped at 64k (lr_boundaries 0.5 and 0.75 of train_steps=64000).
- Weight decay 1e-4 as coupled L2 (see base.py), He init, BN, no dropout.
- Pad 4, random 32x32 crop, random flip; per-pixel mean; single-view test.
- ResNet-110 and -1202 start at 0.01 until the training error is below 80% (about 400
  iterations), then go back to 0.1.
- The paper chose the schedule on a 45k/5k split: add --config.data.val_split=5000.

Other small datasets reuse this recipe, e.g. the offline one:

    make train MODEL=resnet20 DATASET=digits EPOCHS=30   # ~3.5 min on 2 cores, test error ~0.6%

Smoke run: --config.scale=0.01 (640 steps on 1% of the data).
"""

from keras_resnet.configs.base import base_config, with_model

# Section 4.2: "In this case [110 layers], we find that the initial learning rate of 0.1 is
# slightly too large to start converging", and the same holds for 1202 layers.
WARMUP_MODELS = ("resnet110", "resnet1202")


def get_config(model: str | None = None):
    config = with_model(base_config(), model or "resnet20")
    config.dataset = "cifar10"
    config.batch_size = 128
    config.lr_reference_batch = 128
    config.train_steps = 64_000
    config.lr_boundaries = (32_000 / 64_000, 48_000 / 64_000)
    config.data.shuffle_buffer = 50_000
    if config.model in WARMUP_MODELS:
        config.warmup = "until_error"
    return config
