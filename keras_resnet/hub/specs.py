"""`WeightSpec`: everything known about one weights file, as data.

A spec names the file (URL and the publisher's hash), what it fills (a registered model in
a given layout), how its inputs were normalised and evaluated, and the publisher's own
numbers with where they come from. `file_hash` takes the forms publishers use: a full sha256
(64 hex digits), an md5 (32, keras.applications' `file_hash`) or a sha256 prefix of at least
8 digits (torchvision puts one in every file name).
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re
import urllib.parse

LAYOUTS = ("v1", "v1.5")
# The input normalisations converted weights bring (keras_resnet.imaging.pixel_normalization's
# channel_stats names); "model" is a file of this package that carries its own.
NORMALIZATIONS = ("torch", "caffe", "model")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
MIN_PREFIX = 8


@dataclasses.dataclass(frozen=True)
class WeightSpec:
    tag: str  # "resnet50.tv2_in1k": model name, a dot, the weights' own name
    model: str  # the keras_resnet model it fills, e.g. "resnet50"
    url: str
    file_hash: str
    layout: str = "v1"  # "v1": the paper's bottleneck; "v1.5": torchvision's
    normalization: str = "model"
    num_classes: int | None = 1000  # None: a file without the classifier ("notop")
    resize: int = 256  # evaluation: shorter side resized to this, then ...
    crop: int = 224  # ... the central crop of this size
    interpolation: str = "bilinear"
    size_mb: float | None = None  # the publisher's stated size, MiB (a display hint)
    top1: float | None = None  # the publisher's ImageNet-val accuracy, percent
    top5: float | None = None
    license: str = ""
    source: str = ""  # where the facts above come from
    description: str = ""

    def __post_init__(self):
        hash_kind(self.file_hash, self.tag)  # ValueError echoing a malformed hash
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}.")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}."
            )
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}."
            )
        if not self.file_name:
            raise ValueError(f"url {self.url!r} names no file.")

    @property
    def file_name(self) -> str:
        """The file's name, the last part of its URL: the name in the cache and on a mirror."""
        return posixpath.basename(urllib.parse.urlsplit(self.url).path)


def hash_kind(file_hash: str, tag: str = "") -> str:
    """'sha256', 'md5' or 'sha256-prefix' for a hash string; ValueError echoing a bad one."""
    value = file_hash.lower() if isinstance(file_hash, str) else ""
    if re.fullmatch(r"[0-9a-f]{64}", value):
        return "sha256"
    if re.fullmatch(r"[0-9a-f]{32}", value):
        return "md5"
    if re.fullmatch(rf"[0-9a-f]{{{MIN_PREFIX},63}}", value):
        return "sha256-prefix"
    where = f" for {tag!r}" if tag else ""
    raise ValueError(
        f"file_hash{where} must be a sha256 (64 hex digits), an md5 (32) or a sha256 prefix "
        f"of at least {MIN_PREFIX}, got {file_hash!r}."
    )


def hasher(file_hash: str):
    """A fresh hashlib object of the kind `file_hash` is."""
    return hashlib.md5() if hash_kind(file_hash) == "md5" else hashlib.sha256()


def matches(file_hash: str, digest: str) -> bool:
    """Whether a file's hex `digest` (of the kind `hasher` gave) is `file_hash`."""
    return digest.lower().startswith(file_hash.lower())
