"""Fine-tuning recipe: ImageNet weights on your own image folder (docs/weights.md).

Two phases, as keras.io's transfer-learning guide does them: first the new head alone on the
frozen backbone, then the top stage too, from the first phase's workdir, at a tenth of the
learning rate. BN stays in inference mode in both (keras_resnet/training/transfer.py).

    keras-resnet-train --config=keras_resnet/configs/finetune.py:resnet50 \\
        --config.dataset=image_folder:/data/flowers --workdir=runs/flowers-head
    keras-resnet-train --config=keras_resnet/configs/finetune.py:resnet50 \\
        --config.dataset=image_folder:/data/flowers --config.init_from=runs/flowers-head \\
        --config.unfreeze_stages=1 --config.learning_rate=0.0001 --workdir=runs/flowers-top

The folder holds one subfolder per class (or train/ and val/ with them); the class names
are served with the exported model. `init_from` takes any weights tag
(`keras_resnet.weights.list_weights()`), a weights file or a workdir.
"""

from keras_resnet.configs.base import base_config, with_model


def get_config(model: str | None = None):
    config = with_model(base_config(), model or "resnet50")
    config.dataset = "image_folder:PATH"  # --config.dataset=image_folder:/your/images
    config.init_from = "imagenet"  # the depth's default weights (docs/weights.md)
    config.freeze_backbone = True
    config.unfreeze_stages = 0  # phase 2: 1, from phase 1's workdir, learning_rate 0.0001
    config.batch_size = 32
    config.lr_reference_batch = 32
    # SGD with momentum 0.9 on the new head, at the rate of torchvision's transfer-learning
    # tutorial: pooled ResNet features are large (|f|^2 in the hundreds), so 0.01 can diverge.
    config.learning_rate = 0.001
    config.weight_decay = 1e-4  # on the trainable kernels only: frozen ones leave the L2 term
    config.num_epochs = 10
    config.lr_boundaries = (0.7,)
    # Small sets: a gentler scale augmentation than the paper's [256, 480], no PCA lighting
    # (the pretrained statistics are ImageNet's), and the weights' own evaluation view (0).
    config.data.scale_range = (224, 288)
    config.data.pca_lighting = False
    config.data.eval_resize = 0
    config.data.shuffle_buffer = 10_000
    config.backup_every_steps = 100
    return config
