"""The test-time view of an image: how it is resized and cropped before the network sees it.

Training's evaluation (`keras_resnet.data`), `keras-resnet-eval` and the exported serving graph
(`keras_resnet.export`) all call these functions, so a served model sees the same pixels as
`make eval` on the same file. An earlier export resized without antialiasing while evaluation
antialiased: a downscaled photo then differed by up to tens of grey levels near edges, and the
served scores differed from the evaluated ones.

Resizing is bilinear with antialiasing (a triangle filter widened by the scale factor, like PIL's
and torchvision's default), so shrinking a large photo averages its pixels instead of sampling
every n-th one. Pixels stay in whatever units they came in: the functions are linear in them.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

# ImageNet's single view (paper Section 3.4, after Krizhevsky et al.): shorter side to 256,
# central 224x224 crop.
IMAGENET_CROP = 224
IMAGENET_RESIZE = 256
# Small (CIFAR-style) nets see their whole image at this size (Section 4.2).
SMALL_SIZE = 32


def resize_shorter(image, side):
    """Resizes an (H, W, C) image so that its shorter side is `side`, keeping the aspect ratio."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.round(shape * scale), tf.int32)
    new = tf.maximum(new, tf.cast(side, tf.int32))  # rounding must not undercut the crop
    return tf.image.resize(image, new, antialias=True)


def center_crop(image, size, width=None):
    """The central `size` x `size` (or `size` x `width`) window of an (H, W, C) image at least
    that large."""
    width = size if width is None else width
    shape = tf.shape(image)
    top, left = (shape[0] - size) // 2, (shape[1] - width) // 2
    return image[top : top + size, left : left + width]


def resize_to(image, height, width):
    """An image of any size at exactly (height, width), as uint8-valued float32 pixels.

    Small nets' image folders are decoded this way once, and stored as uint8 (the rounding);
    serving repeats the rounding so that both see identical values. An image already at that
    size comes back unchanged."""
    image = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
    return tf.floor(tf.clip_by_value(image, 0.0, 255.0) + 0.5)


@dataclasses.dataclass(frozen=True)
class View:
    """One image's test-time view: `resize` is the shorter side before a central
    (height, width) crop; `resize=None` resizes the whole image to (height, width) instead."""

    height: int
    width: int
    resize: int | None = None

    def __post_init__(self):
        if self.height < 1 or self.width < 1:
            raise ValueError(f"View size must be positive, got {self.height}x{self.width}.")
        if self.resize is not None and self.resize < max(self.height, self.width):
            raise ValueError(
                f"View resize={self.resize} is smaller than the {self.height}x{self.width} crop."
            )

    @classmethod
    def for_crop_fraction(cls, height: int, width: int, crop_fraction: float) -> View:
        """The 0.875 convention (224 = 0.875 * 256); crop_fraction=1.0 means no crop."""
        if not 0.0 < crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction!r}.")
        if crop_fraction == 1.0:
            return cls(height, width)
        return cls(height, width, round(max(height, width) / crop_fraction))

    def __call__(self, image):
        """The view of one decoded (H, W, 3) image, as float32 in the image's own units."""
        if self.resize is None:
            return resize_to(image, self.height, self.width)
        image = resize_shorter(tf.cast(image, tf.float32), self.resize)
        return center_crop(image, self.height, self.width)
