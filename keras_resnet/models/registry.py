"""Model registry: every variant is data (stage sizes + block type), in the timm/flax manner.

`create_model(name, **overrides)` looks a name up here and hands the spec to
`keras_resnet.models.resnet.build_resnet`. Besides the registered names, any CIFAR depth of the
form 6n+2 (paper Section 4.2) is accepted, for example `resnet164` (n=27).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

IMAGENET = "imagenet"
CIFAR = "cifar"

SHORTCUTS = ("A", "B", "C")
VARIANTS = ("v1", "v1.5")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything that distinguishes one ResNet from another (paper Table 1 and Section 4.2)."""

    name: str
    family: str  # IMAGENET or CIFAR: picks the stem, the widths and the defaults.
    stage_sizes: tuple[int, ...]  # residual blocks (or plain block pairs) per stage
    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 with 4x expansion)
    residual: bool  # False for the paper's "plain" twins: same stacks, no shortcuts

    @property
    def depth(self) -> int:
        convs_per_block = 3 if self.block == "bottleneck" else 2
        return 2 + convs_per_block * sum(self.stage_sizes)  # + stem conv + classifier

    @property
    def default_shortcut(self) -> str | None:
        # Paper: option B for the ImageNet results (Table 3/4), option A for CIFAR (Section 4.2).
        if not self.residual:
            return None
        return "B" if self.family == IMAGENET else "A"

    @property
    def default_num_classes(self) -> int:
        return 1000 if self.family == IMAGENET else 10

    @property
    def default_input_shape(self) -> tuple[int, int, int]:
        return (224, 224, 3) if self.family == IMAGENET else (32, 32, 3)


_REGISTRY: dict[str, Callable[[], ModelSpec]] = {}


def register_model(fn: Callable[[], ModelSpec]) -> Callable[[], ModelSpec]:
    """Decorator: registers a zero-argument function returning a `ModelSpec` under its name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Registered model names, ImageNet nets first, each family ordered by depth."""
    specs = [fn() for fn in _REGISTRY.values()]
    specs.sort(key=lambda s: (s.family != IMAGENET, not s.residual, s.depth))
    return [s.name for s in specs]


def _cifar_spec(name: str, depth: int, residual: bool) -> ModelSpec:
    n = (depth - 2) // 6
    return ModelSpec(name, CIFAR, (n, n, n), "basic", residual)


def get_spec(name: str) -> ModelSpec:
    """Returns the spec for `name`, or raises a ValueError listing the valid names."""
    if not isinstance(name, str):
        raise ValueError(f"Model name must be a string, got {name!r}.")
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]()
    match = re.fullmatch(r"(resnet|plain)(\d+)", key)
    if match:
        depth = int(match.group(2))
        if depth >= 8 and (depth - 2) % 6 == 0:
            return _cifar_spec(key, depth, residual=match.group(1) == "resnet")
    raise ValueError(
        f"Unknown model {name!r}. Valid names: {', '.join(list_models())}; "
        "or any CIFAR depth 6n+2 with n >= 1, such as 'resnet164' or 'plain26'."
    )


def _imagenet(name: str, stages: tuple[int, ...], block: str, residual: bool = True) -> ModelSpec:
    return ModelSpec(name, IMAGENET, stages, block, residual)


# ImageNet nets, paper Table 1. Plain-18/34 are the Table 2 baselines.
@register_model
def resnet18() -> ModelSpec:
    return _imagenet("resnet18", (2, 2, 2, 2), "basic")


@register_model
def resnet34() -> ModelSpec:
    return _imagenet("resnet34", (3, 4, 6, 3), "basic")


@register_model
def resnet50() -> ModelSpec:
    return _imagenet("resnet50", (3, 4, 6, 3), "bottleneck")


@register_model
def resnet101() -> ModelSpec:
    return _imagenet("resnet101", (3, 4, 23, 3), "bottleneck")


@register_model
def resnet152() -> ModelSpec:
    return _imagenet("resnet152", (3, 8, 36, 3), "bottleneck")


@register_model
def plain18() -> ModelSpec:
    return _imagenet("plain18", (2, 2, 2, 2), "basic", residual=False)


@register_model
def plain34() -> ModelSpec:
    return _imagenet("plain34", (3, 4, 6, 3), "basic", residual=False)


# CIFAR-10 nets, paper Section 4.2 and Table 6: depth 6n+2 with n blocks per stage.
def _register_cifar(depth: int, residual: bool) -> None:
    name = f"{'resnet' if residual else 'plain'}{depth}"

    def spec() -> ModelSpec:
        return _cifar_spec(name, depth, residual)

    spec.__name__ = name
    register_model(spec)


for _depth in (20, 32, 44, 56, 110, 1202):
    _register_cifar(_depth, residual=True)
for _depth in (20, 32, 44, 56, 110):
    _register_cifar(_depth, residual=False)
