"""Fields shared by every training config, each defined once with its default; `cifar10.py` and
`imagenet.py` beside this file fill in the paper's recipes, and
`keras_resnet.training.train.train_and_evaluate` reads them.

Lengths: `train_steps` counts SGD iterations, as Section 4.2 does; `num_epochs`, when set,
replaces it (`make train EPOCHS=30`). Learning-rate boundaries are fractions of the run, so the
schedule keeps its shape when a run is shortened. `scale` (0 < scale <= 1) shrinks the number
of steps and every data split by the same factor, for smoke runs and the experiment tables'
quick mode, without a second copy of a config.
"""

from __future__ import annotations

import ml_collections
from ml_collections import config_dict

# Keys that take one of a fixed set of values: the only list of them, the default first.
CHOICES = {
    # "step": divide at lr_boundaries; "plateau": when the val error stalls (Section 3.4).
    "lr_schedule": ("step", "plateau"),
    # "until_error": 0.01 until the training error < warmup_error (Section 4.2, ResNet-110);
    # "linear": ramp up over warmup_epochs (Goyal et al. 2017).
    "warmup": ("none", "until_error", "linear"),
    # "float16" adds dynamic loss scaling; bfloat16 has float32's range and needs none.
    "precision": ("float32", "bfloat16", "float16"),
    # Activation recomputation (keras_resnet/models/remat.py): keep only each residual block's
    # (or stage's) input through the forward pass and recompute the rest in the backward pass.
    # Same gradients; less memory for about one more forward pass of compute.
    "remat": ("none", "blocks", "stages"),
}
# The Keras dtype policy each precision trains under.
DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# Keys that change how a run reports, not what it computes: a rerun that changes them still
# resumes the run in its workdir (and an experiment row keeps its workdir).
REPORTING_ONLY = ("progress_every_s",)
# Keys added after runs were first recorded, with the value every earlier run had: a workdir
# whose config.json predates them still resumes (and still counts as trained).
ADDED_KEYS = {
    "init_from": None,
    "freeze_backbone": False,
    "unfreeze_stages": 0,
    "remat": "none",
}


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model = "resnet20"
    c.shortcut = config_dict.placeholder(str)  # None: the model's default (A for CIFAR, B ImageNet)
    c.variant = config_dict.placeholder(str)  # None: "v1", the paper's bottleneck
    c.dataset = "cifar10"
    # Fine-tuning (keras_resnet/configs/finetune.py, docs/weights.md): start from a weights tag
    # ("imagenet", "resnet50.tv2_in1k"), a weights file or a training workdir. Weights that
    # bring their own input normalisation are fed raw pixels, without the per-pixel mean.
    c.init_from = config_dict.placeholder(str)
    c.freeze_backbone = False  # train the head only (BN frozen in inference mode) ...
    c.unfreeze_stages = 0  # ... and the convs of this many top stages

    c.data = ml_collections.ConfigDict()
    c.data.data_dir = config_dict.placeholder(str)  # TFDS data_dir; None: ~/tensorflow_datasets
    c.data.manual_dir = config_dict.placeholder(str)  # imagenet2012's tar files
    c.data.val_split = 0  # training images held out for validation; 0 validates on the test set
    c.data.image_size = 224  # crop size of ImageNet-style data
    c.data.scale_range = (256, 480)  # shorter side for scale augmentation (Section 3.4)
    c.data.eval_resize = 256  # shorter side before the central crop at test time
    c.data.pca_lighting = True  # AlexNet colour augmentation, ImageNet-style data only
    c.data.mean_examples = 0  # training images averaged for the per-pixel mean; 0: all
    c.data.shuffle_buffer = 50_000
    c.data.eval_batch_size = 0  # 0: batch_size

    c.batch_size = 128  # global, over all replicas and workers
    c.learning_rate = 0.1  # at lr_reference_batch; scaled linearly with batch_size
    c.lr_reference_batch = 128
    c.momentum = 0.9
    # The paper's coupled L2 (Section 3.4, 4.2): lambda * w joins the gradient before momentum.
    # It goes in as kernel regularizers, L2(lambda / 2) on every conv and dense kernel
    # (create_model's weight_decay=), so it also shows in the loss. Keras' SGD(weight_decay=)
    # would be decoupled decay (Loshchilov & Hutter), applied outside momentum: not the paper's.
    # BN's gamma/beta and the dense bias are not decayed: create_model regularizes kernels only.
    c.weight_decay = 1e-4
    c.lr_schedule = CHOICES["lr_schedule"][0]
    c.lr_boundaries = (0.5, 0.75)  # fractions of the run's steps
    c.lr_decay = 0.1
    c.plateau_patience = 5  # epochs without a val top-1 gain of plateau_min_delta points
    c.plateau_min_delta = 0.1
    c.warmup = CHOICES["warmup"][0]
    c.warmup_lr = 0.01  # until_error: this rate until the running train error < warmup_error
    c.warmup_error = 80.0  # percent
    c.warmup_epochs = 5  # linear: ramp from 0 over this many epochs (Goyal et al. 2017)

    c.train_steps = config_dict.placeholder(int)
    c.num_epochs = config_dict.placeholder(int)
    c.scale = 1.0

    c.precision = CHOICES["precision"][0]
    c.jit_compile = False  # XLA
    # BN on TensorFlow's fused kernel (keras_resnet/models/fused_bn.py): same math, 1.18x
    # (float32) to 1.63x (bf16) faster ResNet-50 steps on CPU; saved .keras files still hold
    # standard Keras BN layers.
    c.fused_batchnorm = True
    c.remat = CHOICES["remat"][0]  # "blocks" trains the largest batches (docs/performance.md)
    c.seed = 0
    c.backup_every_steps = 200  # BackupAndRestore frequency, in steps
    # When stdout is not a terminal (CI, nohup, Kubernetes): a progress line (step, loss, img/s,
    # ETA) at least this often, in seconds, in training, evaluation and experiments.run; 0: none.
    c.progress_every_s = 30.0
    return c


def base_learning_rate(config) -> float:
    """The learning rate at the config's batch: `learning_rate` is given at lr_reference_batch
    and scales linearly with the global batch (Goyal et al. 2017; the paper's is at 256)."""
    return config.learning_rate * config.batch_size / config.lr_reference_batch


def with_model(config: ml_collections.ConfigDict, model: str | None) -> ml_collections.ConfigDict:
    if model:
        config.model = model.strip().lower()
    return config
