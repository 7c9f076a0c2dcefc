"""The weights registry: the published specs plus the user's own, looked up by tag.

keras_resnet.weights.register("resnet50.acme", url=..., file_hash=..., model="resnet50")
keras_resnet.create_model("resnet50", weights="resnet50.acme")
"""

from __future__ import annotations

import dataclasses

from keras_resnet.hub import published
from keras_resnet.hub.specs import WeightSpec

IMAGENET = "imagenet"
_SPECS: dict[str, WeightSpec] = {s.tag: s for s in published.published()}


def register(tag: str, *, url: str, file_hash: str, model: str, **spec) -> WeightSpec:
    """Adds (or replaces) the weights `tag`: the file at `url` with `file_hash` (sha256, md5
    or a sha256 prefix of 8+ hex digits), filling `create_model(model)`. `spec` takes the other
    `WeightSpec` fields (layout, normalization, num_classes, resize, crop, top1, ...)."""
    if not isinstance(tag, str) or not tag.strip() or tag == IMAGENET:
        raise ValueError(f"tag must be a non-empty name other than {IMAGENET!r}, got {tag!r}.")
    known = {f.name for f in dataclasses.fields(WeightSpec)} - {"tag", "url", "file_hash", "model"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"Unknown weight spec field(s) {unknown}; valid ones: {sorted(known)}.")
    value = WeightSpec(tag=tag, url=url, file_hash=file_hash, model=model, **spec)
    _SPECS[tag] = value
    return value


def list_weights(model: str | None = None) -> list[str]:
    """Registered tags (for `model` only, if given), sorted."""
    return sorted(t for t, s in _SPECS.items() if model is None or s.model == model)


def get(tag: str) -> WeightSpec:
    if tag not in _SPECS:
        raise ValueError(
            f"Unknown weights {tag!r}; registered: {', '.join(list_weights())} "
            "(or pass a local file, or keras_resnet.weights.register your own)."
        )
    return _SPECS[tag]


def is_tag(name) -> bool:
    return isinstance(name, str) and (name == IMAGENET or name in _SPECS)


def resolve(name: str, model: str, *, include_top: bool = True) -> WeightSpec:
    """The spec `name` picks for `model`: a tag, or "imagenet" for the model's default."""
    if name != IMAGENET:
        return get(name)
    tag = published.IMAGENET_DEFAULTS.get(model)
    if tag is None:
        raise ValueError(
            f"weights='imagenet' has no default for {model!r}; ImageNet weights exist for "
            f"{', '.join(published.IMAGENET_DEFAULTS)}."
        )
    # keras.applications publishes a smaller file without the classifier; use it when the
    # classifier would be dropped anyway.
    if not include_top and f"{tag}_notop" in _SPECS:
        tag = f"{tag}_notop"
    return _SPECS[tag]


def format_table(tags: list[str] | None = None) -> str:
    """The weights as a Markdown table (docs/weights.md; `keras-resnet-models --weights`).
    Accuracy and size are the publisher's own numbers, as each spec's source states them."""
    lines = [
        "| tag | model | layout | eval view | publisher's top-1 / top-5 (%) | publisher's size (MB) | hash |",
        "|---|---|---|---|---|---:|---|",
    ]
    for tag in tags if tags is not None else list_weights():
        s = _SPECS[tag]
        accuracy = f"{s.top1:g} / {s.top5:g}" if s.top1 is not None else "-"
        default = " (imagenet)" if published.IMAGENET_DEFAULTS.get(s.model) == tag else ""
        lines.append(
            f"| `{tag}`{default} | {s.model} | {s.layout} | {s.resize} -> {s.crop} "
            f"{s.interpolation} | {accuracy} | {s.size_mb or '-'} | `{s.file_hash}` |"
        )
    return "\n".join(lines)
