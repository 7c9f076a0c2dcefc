"""`keras-resnet-models` (`make models`): the table of every registered model.

keras-resnet-models
keras-resnet-models --weights    # the registered pretrained weights (docs/weights.md)
"""

from __future__ import annotations

import os
import sys

from keras_resnet.cli import common


def main(argv: list[str] | None = None) -> int:
    def define(values):
        from absl import flags

        flags.DEFINE_boolean(
            "weights", False, "list the registered pretrained weights instead", flag_values=values
        )

    values, rest = common.parse_flags("keras-resnet-models", __doc__, define, argv)
    if rest:
        common.fail(f"unexpected arguments {rest}; it takes none.")
    if values.weights:
        from keras_resnet.hub import catalog

        print(catalog.format_table())
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras_resnet.models import table

    print(
        "Trainable parameters at the default class count; GFLOPs are multiply-adds x 10^9 at the "
        "default input (224x224 ImageNet, 32x32 CIFAR), as in the paper's Table 1.\n",
        file=sys.stderr,
    )
    print(table.format_table(table.model_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
