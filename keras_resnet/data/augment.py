"""Per-image preprocessing: the paper's augmentations and its test-time views.

Images enter as uint8 and leave as float32 in [0, 1] minus the per-pixel training mean, the
"per-pixel mean subtracted" of Sections 3.4 and 4.2 (the 1/255 scale changes nothing the BN
after the first conv would not undo). `mean` is an (H, W, 3) float32 array in [0, 1] units.
"""

from __future__ import annotations

import tensorflow as tf

# Resizing and cropping are defined once, in keras_resnet.imaging.views, for training,
# evaluation and the exported serving graph alike (bilinear with antialiasing).
from keras_resnet.imaging.views import center_crop, resize_shorter

# AlexNet's "PCA lighting" (Krizhevsky et al. 2012, Section 4.1; paper Section 3.4): RGB
# eigenvalues and eigenvectors of the ImageNet pixel covariance, for pixels in [0, 1], as
# fb.resnet.torch uses them, with alpha ~ N(0, 0.1).
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
LIGHTING_STD = 0.1
# Table 4's multi-scale test sizes, relative to the 224 crop (scaled for other crop sizes).
MULTISCALE_SIDES = (224, 256, 384, 480, 640)


def to_unit(image):
    return tf.cast(image, tf.float32) / 255.0


def subtract_mean(image, mean):
    """Per-pixel mean, resized when the image is not the size it was computed at (multi-scale
    testing). `mean=None` subtracts nothing (used while computing the mean)."""
    if mean is None:
        return image
    mean = tf.convert_to_tensor(mean, tf.float32)
    if image.shape[-3:-1].is_fully_defined() and image.shape[-3:-1] == mean.shape[:2]:
        return image - mean
    return image - tf.image.resize(mean, tf.shape(image)[-3:-1])


def lighting(image, std=LIGHTING_STD):
    """Adds eigvec @ (alpha * eigval) to every pixel, alpha ~ N(0, std) per image."""
    alpha = tf.random.normal((3,), stddev=std)
    rgb = tf.linalg.matvec(tf.constant(PCA_EIGVEC), alpha * tf.constant(PCA_EIGVAL))
    return image + rgb


def small_train(image, mean, *, pad=4, flip=True):
    """Section 4.2: mean-subtract, pad 4 pixels with zeros, random crop back, random flip.

    The padding is applied after the mean subtraction, so padded pixels hold the mean value.
    """
    image = subtract_mean(to_unit(image), mean)
    height, width = image.shape[0], image.shape[1]
    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.random_crop(image, (height, width, 3))
    return tf.image.random_flip_left_right(image) if flip else image


def small_eval(image, mean):
    """Section 4.2: "for testing, we only evaluate the single view of the original image"."""
    return subtract_mean(to_unit(image), mean)


def imagenet_train(image, mean, *, crop=224, scale_range=(256, 480), flip=True, pca=True):
    """Section 3.4: shorter side to U[256, 480], random 224 crop, flip, mean, PCA lighting."""
    side = tf.random.uniform((), scale_range[0], scale_range[1] + 1, tf.int32)
    image = resize_shorter(to_unit(image), side)
    image = tf.image.random_crop(image, (crop, crop, 3))
    if flip:
        image = tf.image.random_flip_left_right(image)
    if pca:
        image = lighting(image)
    return subtract_mean(image, mean)


def imagenet_eval(image, mean, *, crop=224, resize=256):
    """The standard single view: shorter side to 256, central 224 crop."""
    image = center_crop(resize_shorter(to_unit(image), resize), crop)
    return subtract_mean(image, mean)


def ten_crop(image, mean, *, crop, resize, flip=True):
    """Section 3.4 "standard 10-crop testing": four corners and the centre of the `resize`
    image, each with its mirror. Returns a (10, crop, crop, 3) stack; (5, ...) with
    `flip=False`, for data whose mirror image is not of the same class (digits).

    Each crop is normalised like the centre crop of `imagenet_eval`: the crop-sized per-pixel
    mean is subtracted from the crop itself, aligned pixel for pixel, not a mean stretched over
    the whole resized image."""
    image = resize_shorter(to_unit(image), resize)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    offsets = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop)]
    offsets.append(((h - crop) // 2, (w - crop) // 2))
    crops = [image[t : t + crop, s : s + crop] for t, s in offsets]
    if flip:  # the mirror is a view of the image: mirrored first, then normalised
        crops += [tf.image.flip_left_right(c) for c in crops]
    return tf.stack([subtract_mean(c, mean) for c in crops])


def multiscale_views(image, mean, *, side, flip=True):
    """Table 4's fully-convolutional test at one scale: the whole image with its shorter side
    at `side`, and its mirror. Returns a (2, H, W, 3) stack, (1, H, W, 3) with `flip=False`."""
    image = subtract_mean(resize_shorter(to_unit(image), side), mean)
    return tf.stack([image, tf.image.flip_left_right(image)] if flip else [image])
