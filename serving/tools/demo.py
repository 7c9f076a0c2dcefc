"""`make demo`: the whole path offline, in a few minutes on 2 CPU cores.

    keras-resnet-demo [--workdir=runs/demo-digits] [--export_dir=models/digits]
        [--epochs=8] [--images=32] [--trainer=auto|keras_resnet|builtin]

1. Train resnet8 on scikit-learn's bundled `digits` (32x32 RGB, as keras_resnet.data makes them).
2. Export it with `keras_resnet.export` (the per-pixel mean and labels "0".."9" built in).
3. Start the embedded server on free ports of 127.0.0.1.
4. Send real test-set digits as PNG over REST and gRPC; check both equal in-process
   `model.predict` on the same preprocessed pixels.
5. Shut the server down gracefully.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


def digits_split():
    """(x_train, y_train, x_test, y_test): uint8 32x32x3 images, the split keras_resnet.data uses."""
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32)[..., None] * (255.0 / 16.0)
    images = tf.image.resize(images, (32, 32), method="bilinear").numpy()
    images = np.repeat(np.clip(np.round(images), 0, 255).astype(np.uint8), 3, axis=-1)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    return x_tr, y_tr, x_te, y_te


def train_builtin(workdir: str, epochs: int) -> None:
    """A plain Keras fit writing the workdir layout training uses (model.keras, mean.npy)."""
    import keras

    import keras_resnet

    x_tr, y_tr, _, _ = digits_split()
    mean = (x_tr.astype(np.float32) / 255.0).mean(axis=0)
    keras.utils.set_random_seed(0)
    model = keras_resnet.create_model("resnet8", num_classes=10, weight_decay=1e-4)
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_tr / 255.0 - mean, y_tr, batch_size=64, epochs=epochs, verbose=2)
    os.makedirs(workdir, exist_ok=True)
    np.save(os.path.join(workdir, "mean.npy"), mean)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump({"model": "resnet8", "dataset": "digits", "num_epochs": epochs}, f)
    model.save(os.path.join(workdir, "model.keras"))


def train_keras_resnet(workdir: str, epochs: int) -> None:
    """The project's training loop (keras_resnet.training.train) with the CIFAR recipe on digits."""
    from keras_resnet.configs import cifar10
    from keras_resnet.training import train

    config = cifar10.get_config("resnet8")
    config.dataset = "digits"
    config.num_epochs = epochs
    config.batch_size = 64
    train.train_and_evaluate(config, workdir)


def train(workdir: str, epochs: int, trainer: str) -> str:
    """Trains into `workdir` (skipped when it already holds a model); returns the trainer used."""
    if os.path.exists(os.path.join(workdir, "model.keras")):
        return "existing workdir"
    if trainer == "auto":
        try:
            import keras_resnet.configs.cifar10  # noqa: F401
            import keras_resnet.training.train  # noqa: F401

            trainer = "keras_resnet"
        except ImportError:
            trainer = "builtin"
    (train_keras_resnet if trainer == "keras_resnet" else train_builtin)(workdir, epochs)
    return trainer


def run(
    workdir: str = "runs/demo-digits",
    export_dir: str = "models/digits",
    epochs: int = 8,
    images: int = 32,
    trainer: str = "auto",
) -> int:
    """Trains (`trainer`: auto, keras_resnet or builtin) for `epochs`, exports, serves, and checks
    `images` test digits over REST and gRPC; 0 when both match in-process predictions."""
    import keras
    import tensorflow as tf

    from keras_resnet.export import savedmodel

    from ..core.options import ServerOptions
    from ..core.server import ModelServer
    from . import client
    from .testing import free_port

    start = time.time()
    print(f"[1/5] training resnet8 on digits in {workdir} ...", flush=True)
    used = train(workdir, epochs, trainer)
    print(f"      trainer: {used} ({time.time() - start:.0f} s)")

    print(f"[2/5] exporting to {export_dir} ...", flush=True)
    # The workdir's config.json names the dataset, so the labels "0".."9" come with it.
    model, pre = savedmodel.load_source(workdir)
    path = savedmodel.export_model(model, export_dir, pre, source=os.path.abspath(workdir))
    print(f"      exported {path}")

    print("[3/5] starting the embedded server ...", flush=True)
    name = os.path.basename(os.path.abspath(export_dir))
    options = ServerOptions(
        port=free_port(),
        rest_api_port=free_port(),
        model_name=name,
        model_base_path=os.path.abspath(export_dir),
        enable_batching=True,
    )
    server = ModelServer(options)
    server.start()
    try:
        print(f"[4/5] predicting {images} test digits over REST and gRPC ...", flush=True)
        _, _, x_te, y_te = digits_split()
        x, y = x_te[:images], y_te[:images]
        pngs = [tf.io.encode_png(im).numpy() for im in x]
        rest = client.predict_rest(f"127.0.0.1:{server.rest_port}", name, pngs)
        grpc_result = client.predict_grpc(f"127.0.0.1:{server.grpc_port}", name, pngs)
    finally:
        print("[5/5] shutting down ...", flush=True)
        server.stop()

    model = keras.models.load_model(os.path.join(workdir, "model.keras"), safe_mode=True)
    mean = np.load(os.path.join(workdir, "mean.npy"), allow_pickle=False)
    local = tf.nn.softmax(model.predict(x / 255.0 - mean, verbose=0)).numpy()
    rest_diff = np.abs(rest["probabilities"] - local).max()
    grpc_diff = np.abs(grpc_result["probabilities"] - local).max()
    same = (rest["classes"] == local.argmax(-1)).all() and (
        grpc_result["classes"] == rest["classes"]
    ).all()
    print(f"      first 16 true:      {' '.join(map(str, y[:16]))}")
    print(f"      first 16 via REST:  {' '.join(rest['class_names'][:16])}")
    print(f"      first 16 via gRPC:  {' '.join(grpc_result['class_names'][:16])}")
    print(f"      accuracy on {len(y)}: {(rest['classes'] == y).mean():.1%}")
    print(
        f"      max |p_rest - p_local| = {rest_diff:.2e}, max |p_grpc - p_local| = {grpc_diff:.2e}"
    )
    ok = same and max(rest_diff, grpc_diff) < 1e-4
    print(f"{'OK' if ok else 'MISMATCH'}: demo finished in {time.time() - start:.0f} s")
    return 0 if ok else 1


TRAINERS = ("auto", "keras_resnet", "builtin")


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("workdir", "runs/demo-digits", "training workdir (reused)", **where)
    flags.DEFINE_string("export_dir", "models/digits", "where the model is exported", **where)
    flags.DEFINE_integer("epochs", 8, "training epochs", lower_bound=1, **where)
    flags.DEFINE_integer("images", 32, "test digits sent to the server", lower_bound=1, **where)
    flags.DEFINE_enum("trainer", "auto", list(TRAINERS), "which training loop", **where)


def main(argv: list[str] | None = None) -> int:
    from keras_resnet.cli import common, extras

    values, rest = common.parse_flags("keras-resnet-demo", __doc__, _define, argv)
    if rest:
        common.fail(f"unexpected arguments {rest}; every setting is a --flag=value.")
    extras.require("serving", "digits")  # it serves what it trains on the digits data
    names = ("workdir", "export_dir", "epochs", "images", "trainer")
    return run(**{name: values[name].value for name in names})


if __name__ == "__main__":
    sys.exit(main())
