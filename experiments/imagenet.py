"""The paper's ImageNet recipe (Section 3.4), as a config file for `--config=experiments/imagenet.py:MODEL`.

The recipe itself ships inside the package, in keras_resnet/configs/imagenet.py, so that an installed
`keras_resnet` trains with it too (`keras-resnet-train --model=...`); its docstring gives the
commands and the expected results. This file only points absl's config_flags at it:

    keras-resnet-train --config=experiments/imagenet.py:resnet50 --workdir=runs/x [--config.batch_size=256]
"""

from keras_resnet.configs.imagenet import get_config

__all__ = ["get_config"]
