"""ImageNet recipe of the paper, Section 3.4 (Tables 2-4).

Run:

    keras-resnet-train --config=keras_resnet/configs/imagenet.py:resnet50 --workdir=runs/resnet50
    keras-resnet-train --model=resnet50 --workdir=runs/resnet50     # the same: this recipe
    make train MODEL=resnet34                                       # the same through make
    make eval WORKDIR=runs/resnet34 ARGS=--mode=10crop  # the paper's test protocol

Expected ImageNet val error, 10-crop top-1 (Table 3): ResNet-34 B 24.52%, ResNet-50 22.85%,
ResNet-101 21.75%, ResNet-152 21.43%; multi-scale (Table 4) ResNet-50 20.74%. Single
centre-crop reproductions (fb.resnet.torch): ResNet-18 30.43%, -34 26.73%, -50 24.01%.

- TFDS imagenet2012 needs ILSVRC2012_img_{train,val}.tar in its manual_dir.
- SGD, momentum 0.9, batch 256, learning rate 0.1 x batch/256 (linear scaling), weight decay
  1e-4 (coupled L2, see base.py), no dropout.
- The paper divides by 10 when the error plateaus (--config.lr_schedule=plateau); the default
  is the usual equivalent, epochs 30 and 60 of 90 (lr_boundaries 1/3 and 2/3).
- Large batches: --config.warmup=linear ramps up over warmup_epochs (Goyal et al. 2017).
- Augmentation: shorter side U[256, 480], random 224 crop, flip, per-pixel mean, PCA lighting.
- Mixed precision and XLA for accelerators: --config.precision=bfloat16 --config.jit_compile=True.
"""

from keras_resnet.configs.base import base_config, with_model


def get_config(model: str | None = None):
    config = with_model(base_config(), model or "resnet50")
    config.dataset = "imagenet2012"
    config.batch_size = 256
    config.lr_reference_batch = 256
    config.num_epochs = 90
    config.lr_boundaries = (30 / 90, 60 / 90)
    config.plateau_patience = 5
    # A 10k-image mean is within a fraction of a grey level of the full 1.28M-image one.
    config.data.mean_examples = 10_000
    config.data.shuffle_buffer = 10_000
    config.backup_every_steps = 1_000
    return config
