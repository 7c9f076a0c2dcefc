"""Input-pipeline throughput for `make bench`: the real training `tf.data` pipelines
(`keras_resnet.data.build`) measured alone, without a model, so they can be compared with the
training step they feed. The pipeline must outrun the step, or the accelerator waits.

- cifar10: the TFDS loading code on `tfds.testing.mock_data` (no download), pad/crop/flip and
  mean subtraction, batch 128.
- imagenet_jpeg: generated JPEGs (500x375, like an average ImageNet photo) in an image folder,
  decoded and augmented every step as ImageNet is: scale augmentation to [256, 480], random 224
  crop, flip, PCA lighting, batch 32.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)


def _settings(recipe: str, batch: int):
    """The pipeline settings of a packaged recipe (keras_resnet.configs; the repository's
    experiments/ folder is not importable from an installed console script), with a smaller
    shuffle buffer and mean so that the measurement starts quickly."""
    from keras_resnet.training import inputs

    config = importlib.import_module(f"keras_resnet.configs.{recipe}").get_config()
    config.batch_size = batch
    config.data.shuffle_buffer = 1_000
    config.data.mean_examples = 500
    return inputs.pipeline_settings(config)


def images_per_s(ds: tf.data.Dataset, batch: int, *, warmup: int, steps: int) -> float:
    it = iter(ds)
    for _ in range(warmup):  # fills the prefetch buffer and lets AUTOTUNE settle
        next(it)
    start = time.perf_counter()
    for _ in range(steps):
        next(it)
    return steps * batch / (time.perf_counter() - start)


def write_jpegs(root: Path, count: int, classes: int = 4, size=(375, 500)) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / "train" / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        # Smooth noise compresses like a photo, unlike white noise, which would make JPEGs huge.
        small = rng.integers(0, 255, size=(size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
        image = tf.image.resize(small, size, method="bilinear")
        tf.io.write_file(str(folder / f"{i}.jpg"), tf.io.encode_jpeg(tf.cast(image, tf.uint8)))
    for c in range(classes):  # a small test split, as image_folder sources expect
        test = root / "test" / f"class{c}"
        test.mkdir(parents=True, exist_ok=True)
        for f in list((root / "train" / f"class{c}").glob("*.jpg"))[:2]:
            (test / f.name).write_bytes(f.read_bytes())


def measure(*, quick: bool, step_rates: dict | None = None) -> dict:
    import tensorflow_datasets as tfds

    from keras_resnet import data

    steps = 10 if quick else 40
    step_rates = step_rates or {}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        with tfds.testing.mock_data(num_examples=2_000):
            source = data.load_source("cifar10", model_style=data.SMALL, model_classes=10)
            ds = data.build(source, _settings("cifar10", 128), workdir=tmp, write_mean=False)
            rate = images_per_s(ds.train, 128, warmup=5, steps=steps)
        out["cifar10"] = {
            "what": "TFDS mock data, not the CIFAR-10 files, batch 128",
            "images_per_s": round(rate, 1),
        }

        root = Path(tmp) / "jpegs"
        write_jpegs(root, 64 if quick else 256)
        source = data.load_source(
            f"image_folder:{root}", model_style=data.IMAGENET, model_classes=4
        )
        ds = data.build(source, _settings("imagenet", 32), workdir=tmp, write_mean=False)
        rate = images_per_s(ds.train, 32, warmup=3, steps=steps // 2)
        out["imagenet_jpeg"] = {
            "what": "JPEG decode + ImageNet augmentation, batch 32",
            "images_per_s": round(rate, 1),
        }
    for name, entry in out.items():
        entry["step_images_per_s"] = step_rates.get(name)
        logger.info(f"pipeline {name}: {entry['images_per_s']:.0f} img/s")
    return out
