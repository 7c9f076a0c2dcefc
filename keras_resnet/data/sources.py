"""Where the raw images come from: TFDS, a folder of images, scikit-learn's digits, or noise.

Every source yields `(uint8 image HxWx3, int32 label)` in a fixed order, so a validation split
taken off the end of the training set (the paper's 45k/5k) is the same on every run and worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from keras_resnet.data import downloads
from keras_resnet.errors import MissingExtra, UserError
from keras_resnet.hub import network
from keras_resnet.imaging import views
from keras_resnet.imaging.classes import dataset_class_names

SMALL = "small"  # CIFAR-style: fixed small images, pad-and-crop augmentation (Section 4.2)
IMAGENET = "imagenet"  # scale augmentation and 224 crops (Section 3.4)

TFDS_DATASETS = {
    # name: (TFDS name, test split, style)
    "cifar10": ("cifar10", "test", SMALL),
    "cifar100": ("cifar100", "test", SMALL),
    "imagenet2012": ("imagenet2012", "validation", IMAGENET),
    "imagenette": ("imagenette/320px-v2", "validation", IMAGENET),
}
DATASETS = (*TFDS_DATASETS, "image_folder:PATH", "digits", "synthetic")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# The two archives TFDS' imagenet2012 builder reads from its manual_dir.
IMAGENET_ARCHIVES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


class DatasetUnavailable(UserError):
    """The dataset cannot be had here: no internet, no manual download, an empty folder."""


@dataclasses.dataclass
class Source:
    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    num_train: int
    num_test: int
    num_classes: int
    style: str
    flip: bool = True  # horizontal flips are label-preserving (not for digits)
    # One name per label, recorded in the workdir and served with the model: TFDS' ClassLabel
    # names (ImageNet WordNet ids made readable), folder names, digits.
    class_names: list[str] | None = None
    # The training split in a fresh order every epoch, given a seed: TFDS shuffles its files
    # and reshuffles them each pass. For sets too large to shuffle whole in a buffer (ImageNet:
    # a 10k buffer over 1.28M images barely changes the order between epochs); None for sets
    # the pipeline shuffles whole. `train` keeps the fixed order that validation splits need.
    shuffled_train: Callable[[int], tf.data.Dataset] | None = None


def _count(ds: tf.data.Dataset) -> int:
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(np.int64(0), lambda c, _: c + 1))


def _tfds(name: str, data_dir: str | None, manual_dir: str | None) -> Source:
    import tensorflow_datasets as tfds

    tfds_name, test_split, style = TFDS_DATASETS[name]
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    if not builder.is_prepared():
        manual_dir = manual_dir or os.path.join(builder.data_dir_root, "downloads", "manual")
        # imagenet2012 reads its manual_dir, no network.
        retries = name == "imagenet2012" or _check_network(name, builder)
        try:
            with _tfds_retries(retries):
                builder.download_and_prepare(
                    download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
                )
        except Exception as e:  # no connection, a missing module, disk: one line each
            missing = [
                f for f in IMAGENET_ARCHIVES if not os.path.exists(os.path.join(manual_dir, f))
            ]
            if name == "imagenet2012" and missing:
                raise DatasetUnavailable(
                    f"imagenet2012 needs a manual download: put {' and '.join(missing)} from "
                    f"image-net.org in manual_dir={manual_dir} (or pass --config.data.manual_dir), "
                    "or train on DATASET=imagenette or DATASET=image_folder:PATH."
                ) from None
            raise DatasetUnavailable(
                downloads.tfds_failure_message(name, builder.data_dir_root, e)
            ) from None

    def load(split, shuffle_files):
        ds = builder.as_dataset(split=split, shuffle_files=shuffle_files)
        return ds.map(lambda x: (x["image"], tf.cast(x["label"], tf.int32)))

    train, test = load("train", False), load(test_split, False)

    def shuffled_train(seed: int) -> tf.data.Dataset:
        # The same seed on every worker gives every worker the same order (MultiWorkerMirrored
        # reads the same examples on each and keeps its share of each global batch).
        config = tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=True)
        ds = builder.as_dataset(split="train", shuffle_files=True, read_config=config)
        return ds.map(lambda x: (x["image"], tf.cast(x["label"], tf.int32)))

    return Source(
        name,
        train,
        test,
        _count(train),
        _count(test),
        builder.info.features["label"].num_classes,
        style,
        class_names=dataset_class_names(name, builder.info.features["label"].names),
        shuffled_train=shuffled_train if style == IMAGENET else None,
    )


def _check_network(name: str, builder) -> bool:
    """Whether TFDS may retry its downloads. With KERAS_RESNET_OFFLINE=1 an unprepared dataset
    fails at once, in one line; otherwise the dataset's host is tried once, briefly, and when
    it does not answer TFDS gets a single try, not the ~3.5 minutes of its back-off (a builder
    pointed at local files still prepares)."""
    if network.offline():
        raise DatasetUnavailable(
            f"{name!r} is not prepared in {builder.data_dir_root} and {network.OFFLINE_ENV}=1 "
            "forbids downloading it. Prepare it with TFDS on a machine that has a connection "
            "and pass that data_dir as --config.data.data_dir, or use DATASET=digits (offline)."
        )
    urls = sorted(getattr(builder, "url_infos", None) or {})
    return not urls or network.reachable(urls[0])


@contextlib.contextmanager
def _tfds_retries(allowed: bool):
    from tensorflow_datasets.core.download import downloader

    saved = downloader.MAX_RETRIES
    downloader.MAX_RETRIES = saved if allowed else 0
    try:
        yield
    finally:
        downloader.MAX_RETRIES = saved


def _digits() -> Source:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:  # scikit-learn ships the data set: an extra, not a core dependency
        raise MissingExtra("digits", [(e.name or "sklearn").split(".")[0]]) from None

    # 1,797 bundled 8x8 images with values 0..16: rescale to 0..255, upscale to the 32x32 RGB
    # input of the CIFAR nets. A fixed, stratified 80/20 split keeps the test set the same.
    digits = load_digits()
    images = digits.images.astype(np.float32)[..., None] * (255.0 / 16.0)
    images = tf.image.resize(images, (32, 32), method="bilinear").numpy()
    images = np.repeat(np.clip(np.round(images), 0, 255).astype(np.uint8), 3, axis=-1)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images,
        digits.target.astype(np.int32),
        test_size=0.2,
        random_state=0,
        stratify=digits.target,
    )
    return Source(
        "digits",
        tf.data.Dataset.from_tensor_slices((x_tr, y_tr)),
        tf.data.Dataset.from_tensor_slices((x_te, y_te)),
        len(x_tr),
        len(x_te),
        10,
        SMALL,
        flip=False,  # a mirrored 2 or 7 is not a digit
        class_names=[str(d) for d in range(10)],
    )


def _synthetic(style: str, num_classes: int) -> Source:
    size = 224 if style == IMAGENET else 32

    def make(offset, n):
        def example(i):
            seed = tf.stack([i, tf.constant(offset, tf.int64)])
            image = tf.random.stateless_uniform((size, size, 3), seed, 0, 256, tf.int32)
            return tf.cast(image, tf.uint8), tf.cast(i % num_classes, tf.int32)

        return tf.data.Dataset.range(n).map(example, num_parallel_calls=tf.data.AUTOTUNE)

    names = [str(c) for c in range(num_classes)]
    train, test = make(0, 10_000), make(1, 1_000)
    return Source("synthetic", train, test, 10_000, 1_000, num_classes, style, class_names=names)


def _folder_files(root: pathlib.Path, classes: list[str]):
    files, labels = [], []
    for label, cls in enumerate(classes):
        for f in sorted((root / cls).rglob("*")):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                files.append(str(f))
                labels.append(label)
    return files, labels


def _image_folder(path: str, style: str) -> Source:
    """`PATH/<class>/*.jpg`; or `PATH/train/<class>/...` plus `PATH/{val,validation,test}/...`."""
    root = pathlib.Path(path).expanduser()
    if not root.is_dir():
        raise DatasetUnavailable(f"image_folder: {root} is not a directory.")
    test_dir = next((root / d for d in ("test", "val", "validation") if (root / d).is_dir()), None)
    train_dir = root / "train" if test_dir is not None and (root / "train").is_dir() else root
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir() and d != test_dir)
    files, labels = _folder_files(train_dir, classes)
    if len(classes) < 2 or not files:
        raise DatasetUnavailable(
            f"image_folder: {train_dir} needs one subfolder per class (2 or more) holding "
            f"{'/'.join(IMAGE_EXTENSIONS)} files."
        )
    if test_dir is not None:
        test_files, test_labels = _folder_files(test_dir, classes)
    else:  # hold out every 10th image, a fixed split
        test_files, test_labels = files[::10], labels[::10]
        files = [f for i, f in enumerate(files) if i % 10]
        labels = [y for i, y in enumerate(labels) if i % 10]

    def decode(f, y):
        image = tf.io.decode_image(tf.io.read_file(f), channels=3, expand_animations=False)
        if style == SMALL:  # CIFAR nets see 32x32 images
            image = tf.cast(views.resize_to(image, views.SMALL_SIZE, views.SMALL_SIZE), tf.uint8)
        return image, y

    def make(fs, ys):
        ds = tf.data.Dataset.from_tensor_slices((fs, np.asarray(ys, np.int32)))
        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

    return Source(
        f"image_folder:{root}",
        make(files, labels),
        make(test_files, test_labels),
        len(files),
        len(test_files),
        len(classes),
        style,
        class_names=classes,
    )


def load_source(
    name: str,
    *,
    model_style: str,
    model_classes: int,
    data_dir: str | None = None,
    manual_dir: str | None = None,
) -> Source:
    """Looks `name` up (see DATASETS). `model_style` picks the preprocessing where the dataset
    does not fix it (image folders, synthetic data); `model_classes` sizes synthetic labels."""
    name = (name or "").strip()
    if name.startswith("image_folder:"):
        return _image_folder(name.split(":", 1)[1], model_style)
    key = name.lower()
    if key in TFDS_DATASETS:
        return _tfds(key, data_dir, manual_dir)
    if key == "digits":
        return _digits()
    if key == "synthetic":
        return _synthetic(model_style, model_classes)
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")
