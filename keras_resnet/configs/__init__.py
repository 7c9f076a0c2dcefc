"""The paper's training recipes as ml_collections configs, shipped inside the package.

    keras-resnet-train --model=resnet110 --workdir=runs/resnet110        # picks cifar10.py
    keras-resnet-train --config=path/to/my_config.py:resnet56 --workdir=...

`base.py` holds every key with its default and, for keys with a fixed set of values, the only
list of them; `cifar10.py` (Section 4.2) and `imagenet.py` (Section 3.4) fill in the paper's
numbers. `overrides.apply` reads `--config.KEY=VALUE` the way absl's config_flags does, for
the tools that take several configs at once (experiments.run).
"""

from __future__ import annotations

import os

from keras_resnet.models import registry

# The recipe a model family trains with (`make train MODEL=...`).
RECIPES = {registry.IMAGENET: "imagenet.py", registry.CIFAR: "cifar10.py"}


def recipe_path(model: str) -> str:
    """`<package>/configs/<recipe>.py:<model>`, the --config value that trains `model` with the
    paper's recipe for its family; ValueError (echoing the name) for an unknown model."""
    spec = registry.get_spec(model)
    return f"{os.path.join(os.path.dirname(__file__), RECIPES[spec.family])}:{spec.name}"
