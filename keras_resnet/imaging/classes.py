"""Class names: ImageNet's 1000 human-readable names, shipped with the package, and the names a
dataset's labels go by.

`imagenet_classes.txt` (beside this file) holds one `<WordNet id> <name>` line per ILSVRC-2012
class, in the label order of TFDS, torchvision and keras.applications. It was generated offline
from files that tensorflow_datasets installs: the WordNet ids of
`datasets/imagenet2012/labels.txt` and the first synonym of each class in
`datasets/siscore/labels.py` (IMAGENET_LABELS_LIST), e.g. "tench, Tinca tinca" -> "tench". Two
classes share a first synonym; they are kept apart as "crane (bird)" / "crane (machine)" and
"maillot" / "tank suit" (n03710721's second synonym), so that every served name is unique.
"""

from __future__ import annotations

import functools
import importlib.resources
import re

import numpy as np

# TFDS' cifar10 builder reads these from the downloaded archive; an unprepared builder (and
# tfds.testing.mock_data) knows only "0".."9".
CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_WNID = re.compile(r"n\d{8}")


@functools.lru_cache(maxsize=1)
def _imagenet() -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = importlib.resources.files(__package__).joinpath("imagenet_classes.txt").read_text()
    rows = [line.split(" ", 1) for line in text.splitlines() if line.strip()]
    if len(rows) != 1000:
        raise RuntimeError(f"imagenet_classes.txt has {len(rows)} classes, expected 1000.")
    return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def imagenet_wnids() -> list[str]:
    """The 1000 WordNet ids (`n01440764`, ...) in label order."""
    return list(_imagenet()[0])


def imagenet_class_names() -> list[str]:
    """The 1000 human-readable ImageNet class names (`tench`, `goldfish`, ...) in label order."""
    return list(_imagenet()[1])


def readable_names(names) -> list[str]:
    """`names` with every ImageNet WordNet id replaced by its human-readable name (TFDS'
    imagenet2012 and imagenette label their classes by WordNet id)."""
    lookup = dict(zip(*_imagenet()))
    return [lookup.get(n, n) if _WNID.fullmatch(n) else n for n in map(str, names)]


def dataset_class_names(dataset: str, names) -> list[str]:
    """The names to record for a dataset's labels: WordNet ids made readable, and CIFAR-10's
    names where TFDS only knows the label numbers."""
    names = [str(n) for n in names]
    if dataset == "cifar10" and names == [str(i) for i in range(10)]:
        return list(CIFAR10_NAMES)
    return readable_names(names)


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """ImageNet scores -> the `top` best (WordNet id, name, score) per image, best first, as
    keras.applications' `decode_predictions` returns them.

    Args:
      preds: (N, 1000) probabilities or logits (numpy array or tensor).
      top: how many classes per image.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            f"decode_predictions expects ImageNet scores of shape (N, 1000), got {preds.shape}."
        )
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise ValueError(f"top must be an integer in [1, 1000], got {top!r}.")
    wnids, names = _imagenet()
    best = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(wnids[c], names[c], float(row[c])) for c in idx] for row, idx in zip(preds, best)]
