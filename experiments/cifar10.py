"""The paper's CIFAR-10 recipe (Section 4.2), as a config file for `--config=experiments/cifar10.py:MODEL`.

The recipe itself ships inside the package, in keras_resnet/configs/cifar10.py, so that an installed
`keras_resnet` trains with it too (`keras-resnet-train --model=...`); its docstring gives the
commands and the expected results. This file only points absl's config_flags at it:

    keras-resnet-train --config=experiments/cifar10.py:resnet110 --workdir=runs/x [--config.batch_size=256]
"""

from keras_resnet.configs.cifar10 import get_config

__all__ = ["get_config"]
