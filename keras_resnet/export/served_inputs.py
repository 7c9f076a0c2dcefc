"""What a served model does to pixels before the network sees them, and where that comes from.

Export bakes this into the SavedModel graph so that clients send plain JPEG/PNG bytes (or raw
0-255 pixels) and never re-implement training-time normalisation. `Preprocessing` is read from a
training workdir when there is one (its `config.json` and saved mean file), and from flags
(`--scale`, `--mean`, `--labels`) otherwise.

Normalisation is `(pixels * scale - mean) / std`, with `pixels` the raw 0-255 values as float32,
`mean` either per channel (3,) or per pixel (H, W, 3) in the scaled units, and `std` per channel.
A model with converted weights normalises its input itself (keras_resnet.models.preprocess_layer):
it is exported with scale 1 and no mean, and takes the raw pixels.

Resizing and cropping are keras_resnet.imaging.views, the functions training's evaluation uses
(bilinear with antialiasing), with the workdir's own sizes (`data.eval_resize`,
`data.image_size`): the served model sees the pixels `keras-resnet-eval` sees.
"""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np

from keras_resnet.imaging.classes import CIFAR10_NAMES, imagenet_class_names
from keras_resnet.storage import files

# File names a training workdir may use; the first that exists wins.
MEAN_FILES = ("mean.npy", "pixel_mean.npy", "mean_image.npy", "per_pixel_mean.npy")
LABEL_FILES = ("labels.txt", "class_names.txt")  # the second is training.workdir.CLASS_NAMES
# Class names of the datasets keras_resnet.data knows, by the `dataset` a config names.
# Workdirs written before training recorded class_names.txt fall back on these.
DATASET_LABELS = {
    "digits": [str(d) for d in range(10)],
    "cifar10": list(CIFAR10_NAMES),
    "imagenet2012": imagenet_class_names(),
}


@dataclasses.dataclass
class Preprocessing:
    """Decode/resize/normalise settings baked into the exported graph."""

    height: int
    width: int
    scale: float = 1.0 / 255.0
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    # Centre crop as a fraction of the resized shorter side (0.875 = the 256->224 ImageNet
    # convention). 1.0 resizes straight to (height, width), which is what small CIFAR/digits
    # models were trained on.
    crop_fraction: float = 1.0
    labels: list[str] | None = None
    # Shorter side before the central crop, as the training config's `data.eval_resize`; None
    # derives it from crop_fraction.
    resize: int | None = None

    def view(self):
        """The resize-and-crop of one decoded image (a keras_resnet.imaging.views.View)."""
        from keras_resnet.imaging import views  # imports TensorFlow: only when exporting

        if self.resize is not None:
            return views.View(self.height, self.width, self.resize)
        return views.View.for_crop_fraction(self.height, self.width, self.crop_fraction)

    def describe(self) -> dict:
        """JSON-friendly summary, written next to the SavedModel for humans and tools."""
        return {
            "height": self.height,
            "width": self.width,
            "scale": self.scale,
            "mean_shape": None if self.mean is None else list(self.mean.shape),
            "std": None if self.std is None else self.std.tolist(),
            "crop_fraction": self.crop_fraction,
            "resize": self.view().resize,
            "labels": self.labels,
        }


def load_mean(path: str) -> np.ndarray:
    """A mean file (.npy, never unpickled) or a comma list like `125.3,123.0,113.9`."""
    if files.exists(path):
        try:
            mean = np.load(io.BytesIO(files.read_bytes(path)), allow_pickle=False)
        except ValueError as e:
            raise ValueError(f"Mean file {path} is not a plain .npy array: {e}") from None
    else:
        try:
            mean = np.array([float(v) for v in path.split(",")])
        except ValueError:
            raise ValueError(
                f"--mean={path!r} is neither an existing .npy file nor a comma-separated list "
                "of per-channel values."
            ) from None
    mean = np.asarray(mean, dtype=np.float32)
    if mean.shape[-1:] != (3,) or mean.ndim not in (1, 3):
        raise ValueError(f"Mean {path} must have shape (3,) or (H, W, 3), got {mean.shape}.")
    return mean


def load_labels(path: str) -> list[str]:
    """One label per line (blank lines ignored), or a JSON list."""
    text = files.read_text(path)
    if text.lstrip().startswith("["):
        return [str(v) for v in json.loads(text)]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _first_existing(directory: str, names) -> str | None:
    for name in names:
        path = files.join(directory, name)
        if files.exists(path):
            return path
    return None


def from_workdir(workdir: str, config: dict) -> dict:
    """Preprocessing fields a training workdir records; missing ones keep their defaults.

    keras_resnet.training.train scales pixels by 1/255 and subtracts the per-pixel training mean it saves
    as `mean.npy` (keras_resnet.data.augment), which are this module's defaults plus that
    file. Its config's `scale` is the run-length factor, not a pixel scale, so it is not read.
    Labels come from `labels`/`class_names` in the config, the `class_names.txt` training
    writes (or a `labels.txt`), or the config's `dataset` when it is one with known class names
    (digits, cifar10, imagenet2012). ImageNet-style data is viewed as `make eval` views it: the
    shorter side resized to `data.eval_resize`, then the central crop; small (CIFAR-style) data
    is resized whole.
    """
    fields: dict = {}
    if path := _first_existing(workdir, MEAN_FILES):
        fields["mean"] = load_mean(path)
    for key in ("labels", "class_names"):
        if isinstance(config.get(key), list):
            fields["labels"] = [str(v) for v in config[key]]
    if "labels" not in fields and (path := _first_existing(workdir, LABEL_FILES)):
        fields["labels"] = load_labels(path)
    if "labels" not in fields and config.get("dataset") in DATASET_LABELS:
        fields["labels"] = list(DATASET_LABELS[config["dataset"]])
    eval_resize = (config.get("data") or {}).get("eval_resize")
    if eval_resize and _imagenet_style(config):
        fields["resize"] = int(eval_resize)
    return fields


def _imagenet_style(config: dict) -> bool:
    """Whether training viewed the data ImageNet-style (keras_resnet.data.sources: fixed by a
    TFDS dataset, else by the model family)."""
    from keras_resnet.data import sources
    from keras_resnet.models import registry

    dataset = str(config.get("dataset") or "").lower()
    if dataset in sources.TFDS_DATASETS:
        return sources.TFDS_DATASETS[dataset][2] == sources.IMAGENET
    if dataset == "digits" or "model" not in config:
        return False
    try:
        return registry.get_spec(config["model"]).family == registry.IMAGENET
    except ValueError:
        return False


def build_graph_fns(pre: Preprocessing):
    """(decode_fn, normalize_fn): TF functions used inside the exported signatures."""
    import tensorflow as tf

    mean = None if pre.mean is None else tf.constant(pre.mean, tf.float32)
    std = None if pre.std is None else tf.constant(pre.std, tf.float32)

    def normalize(pixels):
        x = tf.cast(pixels, tf.float32) * pre.scale
        if mean is not None:
            x = x - mean
        if std is not None:
            x = x / std
        return x

    view = pre.view()

    def decode_one(data):
        # decode_image handles JPEG, PNG, GIF and BMP; expand_animations=False keeps the
        # result rank 3 so the resize below has a static rank.
        img = tf.io.decode_image(data, channels=3, expand_animations=False)
        return view(tf.cast(img, tf.float32))

    def decode(image_bytes):
        return tf.map_fn(
            decode_one,
            image_bytes,
            fn_output_signature=tf.TensorSpec((pre.height, pre.width, 3), tf.float32),
        )

    return decode, normalize
