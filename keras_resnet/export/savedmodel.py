"""Export a trained model as a TF Serving-ready, versioned SavedModel (plus a `.keras` for apps).

    keras-resnet-export SOURCE --export_dir=models/NAME [--version=N]
        [--model_name=NAME] [--mean=FILE.npy|R,G,B] [--std=R,G,B] [--scale=1/255]
        [--labels=FILE] [--crop_fraction=F]

SOURCE is a training workdir (its `model.keras`, `config.json`, mean file and class names are
used) or a bare `.keras` file (flags, else the defaults: pixels / 255, no mean, no labels). A
model with converted weights (torchvision, keras.applications) normalises raw pixels itself and
needs no flags; a 1000-class model serves ImageNet's class names unless given others.

Layout written under EXPORT_DIR (a base path `tensorflow_model_server` serves as is):

    <version>/                  SavedModel; signatures `serving_default` and `predict_images`
    <version>/assets.extra/     tf_serving_warmup_requests, export_info.json

EXPORT_DIR may be a local folder or a bucket (gs://, any tf.io.gfile URI). Locally a version is
built in a hidden folder and renamed into place. On a bucket, where a rename is a copy plus a
delete, it is built in a local folder and uploaded object by object, `saved_model.pb` after
the variables and `assets.extra/export_info.json` last: that file is the version's commit.
    NAME-<version>.keras        raw 0-255 pixels in, probabilities out (preprocessing built in)
    models.config  batching_parameters.txt  monitoring.config

Signatures (names are fixed; see README "Serving"):
    serving_default: image_bytes  string [N] (JPEG/PNG) -> probabilities float32 [N, C],
                     classes int64 [N], class_names string [N] (only when labels are known)
    predict_images:  images float32 [N, H, W, 3] (raw 0-255 pixels) -> the same outputs
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from keras_resnet.export import assets as export_assets
from keras_resnet.export.served_inputs import Preprocessing, from_workdir, load_labels, load_mean
from keras_resnet.imaging.classes import imagenet_class_names
from keras_resnet.storage import atomic, files

SERVING_DEFAULT = "serving_default"
PREDICT_IMAGES = "predict_images"
EXPORT_INFO = "assets.extra/export_info.json"  # written last: on a bucket, the commit


def next_version(export_dir: str) -> int:
    """1 + the largest numeric version directory already there (1 for a new directory)."""
    versions = [int(d) for d in files.listdir(export_dir) if d.isdigit()]
    return max(versions, default=0) + 1


def frozen_network(model, pre: Preprocessing):
    """The network as a graph function whose weights are constants, not variables
    (`--weights_as_constants=true`; the default for bfloat16, see
    `constants_by_default`). Both signatures call this one function, so the SavedModel holds
    the weights once.

    Why: TensorFlow's oneDNN convolutions keep a filter reordered into the blocked layout
    their kernels read only when the filter is a constant. With variables, a reduced-precision
    export reorders all 53 filters of a ResNet-50 on every call: in bfloat16, 22 of 46 ms at
    batch 1 (`ONEDNN_VERBOSE=1`; bench/profile-vm.md, `make bench-profile`). The price: with
    constant filters TensorFlow's graph optimiser no longer fuses the ReLU and the residual Add
    into the convolutions (oneDNN still merges the bias), which costs at larger batches. The
    measured trade-off is in docs/performance.md."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([None, pre.height, pre.width, 3], tf.float32)

    def forward(x):
        return model(x, training=False)

    frozen = convert_variables_to_constants_v2(
        tf.function(forward, autograph=False).get_concrete_function(spec)
    )
    return lambda x: frozen(x)[0]  # a frozen function returns its outputs as a list


def constants_by_default(precision: str) -> bool:
    """Whether an export in `precision` stores its weights as constants unless told otherwise
    (`--weights_as_constants=auto`). Chosen from the batch-1 op profiles of ResNet-50 v1.5 in
    bench/profile-vm.md (`make bench-profile`, 2 threads): in bfloat16 constants remove the
    per-call filter reorders (oneDNN 'reorder' 22.1 ms of a 46.0 ms call) and the call takes
    27.8 ms; in float32 there is no such reorder to remove and constants cost the grappler
    fusions (50.9 ms with variables, 52.2 ms with constants), so float32 keeps variables.
    float16 was not profiled (it gains on GPUs, where oneDNN does not run): variables, as
    before, until a profile shows otherwise."""
    return precision == "bfloat16"


def resolve_weights_as_constants(setting, precision: str) -> bool:
    """`setting` is True, False, or "auto"/None (`constants_by_default(precision)`); a
    ValueError names any other value."""
    if setting is None or setting == "auto":
        return constants_by_default(precision)
    if isinstance(setting, bool):
        return setting
    raise ValueError(f"weights_as_constants must be True, False or 'auto', got {setting!r}.")


def _serving_module(model, pre: Preprocessing, weights_as_constants: bool = False):
    import tensorflow as tf

    from keras_resnet.export.served_inputs import build_graph_fns

    decode, normalize = build_graph_fns(pre)
    labels = None if not pre.labels else tf.constant(pre.labels)

    module = tf.Module()
    if weights_as_constants:
        network = frozen_network(model, pre)
    else:
        module.model = model  # tracked, so the variables are saved with the graph

        def network(x):
            return model(x, training=False)

    def outputs(images):
        logits = tf.cast(network(normalize(images)), tf.float32)
        probabilities = tf.nn.softmax(logits, axis=-1)
        classes = tf.argmax(logits, axis=-1, output_type=tf.int64)
        result = {"probabilities": probabilities, "classes": classes}
        if labels is not None:
            result["class_names"] = tf.gather(labels, classes)
        return result

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(image_bytes):
        return outputs(decode(image_bytes))

    image_spec = tf.TensorSpec([None, pre.height, pre.width, 3], tf.float32, name="images")

    @tf.function(input_signature=[image_spec])
    def predict_images(images):
        return outputs(images)

    module.serve_bytes = serve_bytes
    module.predict_images = predict_images
    return module, {SERVING_DEFAULT: serve_bytes, PREDICT_IMAGES: predict_images}


def app_model(model, pre: Preprocessing):
    """`model` wrapped to take raw 0-255 pixels and return probabilities, standard layers only."""
    import keras
    import numpy as np

    inputs = keras.Input((pre.height, pre.width, 3), name="pixels")
    x = keras.layers.Rescaling(pre.scale, name="rescale")(inputs)
    if pre.mean is not None or pre.std is not None:
        mean = np.zeros(3, np.float32) if pre.mean is None else pre.mean
        std = np.ones(3, np.float32) if pre.std is None else pre.std
        mean, std = np.broadcast_arrays(mean, std)
        axis = -1 if mean.ndim == 1 else (1, 2, 3)
        x = keras.layers.Normalization(axis=axis, mean=mean, variance=np.square(std), name="norm")(
            x
        )
    x = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(model(x))
    return keras.Model(inputs, x, name=f"{model.name}_app")


def export_model(
    model,
    export_dir: str,
    pre: Preprocessing,
    *,
    version=None,
    model_name=None,
    source="",
    precision="float32",
    weights_as_constants="auto",
) -> str:
    """Writes version `version` (default: next) of `model` under `export_dir`; returns its path.

    Both the SavedModel and the `.keras` app file hold the inference graph: BN folded into the
    convolutions, computing in `precision` (float32, bfloat16 or float16) with float32 inputs
    and outputs (keras_resnet.export.folding). `weights_as_constants`: True, False or "auto"
    (constants for bfloat16 only; see `constants_by_default` and `frozen_network`)."""
    import tensorflow as tf

    from keras_resnet.export.folding import inference_model

    requested = "auto" if weights_as_constants is None else weights_as_constants
    weights_as_constants = resolve_weights_as_constants(requested, precision)
    model = inference_model(model, precision)

    local = files.is_local(export_dir)
    export_dir = os.path.abspath(files.local_path(export_dir)) if local else export_dir.rstrip("/")
    model_name = model_name or files.basename(export_dir)
    version = next_version(export_dir) if version is None else int(version)
    final = files.join(export_dir, str(version))
    if files.exists(final):
        raise FileExistsError(
            f"Version {version} already exists at {final}; pick another --version."
        )
    files.makedirs(export_dir)
    # Build in a hidden directory and rename (locally), or upload with the commit file last (a
    # bucket): a polling server never sees a half-written version as complete.
    if local:
        tmp = os.path.join(export_dir, f".tmp-{version}-{os.getpid()}")
    else:
        tmp = tempfile.mkdtemp(prefix="keras-resnet-export-")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        module, signatures = _serving_module(model, pre, weights_as_constants)
        tf.saved_model.save(module, tmp, signatures=signatures)
        export_assets.write_warmup_requests(tmp, model_name, pre.height, pre.width)
        info = {"model_name": model_name, "version": version, "source": source, **pre.describe()}
        info.update(precision=precision, batchnorm="folded into the convolutions")
        info.update(weights="constants" if weights_as_constants else "variables")
        # What was asked for: "auto" is the profile-driven default (constants_by_default).
        info.update(weights_as_constants=str(requested).lower())
        with open(os.path.join(tmp, "assets.extra", "export_info.json"), "w") as f:
            json.dump(info, f, indent=2)
        if local:
            os.rename(tmp, final)
        else:
            files.upload_tree(tmp, final, last=("saved_model.pb", EXPORT_INFO))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left behind when something failed

    app_path = files.join(export_dir, f"{model_name}-{version}.keras")
    atomic.atomic_write(app_path, app_model(model, pre).save, tmp=f".tmp-{model_name}.keras")
    export_assets.write_models_config(
        files.join(export_dir, "models.config"), {model_name: export_dir}
    )
    export_assets.write_batching_parameters(files.join(export_dir, "batching_parameters.txt"))
    export_assets.write_monitoring_config(files.join(export_dir, "monitoring.config"))
    return final


def load_source(
    source: str,
    *,
    scale: str | None = None,
    mean: str | None = None,
    std: str | None = None,
    labels: str | None = None,
    image_size: int | None = None,
    crop_fraction: float | None = None,
) -> tuple:
    """(keras model, Preprocessing) from a workdir or a `.keras` file. The keyword arguments
    override what the workdir recorded: `scale` as text ("1/255"), `mean` and `std` as R,G,B
    or a .npy file, `labels` a file of one class name per line, `image_size` for models of
    variable input size, `crop_fraction` the centre crop (1.0 = none)."""
    import keras

    from keras_resnet.models import preprocess_layer

    fields: dict = {}
    if files.isdir(source):
        path = files.join(source, "model.keras")
        if not files.exists(path):
            raise FileNotFoundError(f"{source} is a directory without model.keras; train first.")
        config_path = files.join(source, "config.json")
        config = {}
        if files.exists(config_path):
            config = json.loads(files.read_text(config_path))
        fields = from_workdir(source, config)
    elif files.exists(source):
        path = source
    else:
        raise FileNotFoundError(f"No such workdir or .keras file: {source}")
    # safe_mode=True: the file may come from anywhere; never run pickled lambdas from it.
    with files.local_copy(path) as local_file:
        loaded = keras.models.load_model(local_file, compile=False, safe_mode=True)
    model = _logits_model(loaded)
    if preprocess_layer.takes_raw_pixels(model):
        # Converted weights carry their normalisation in the model: raw 0-255 pixels go in.
        fields.update(scale=1.0, mean=None, std=None)
    # The arguments override what the workdir recorded.
    if scale is not None:
        fields["scale"] = parse_scale(scale)
    if mean:
        fields["mean"] = load_mean(mean)
    if std:
        fields["std"] = load_mean(std)
    if labels:
        fields["labels"] = load_labels(labels)
    _, height, width, channels = model.input_shape
    if image_size:
        height = width = image_size
    if height is None or width is None or channels != 3:
        raise ValueError(f"Model input {model.input_shape} needs 3 channels and --image_size.")
    crop = crop_fraction
    if crop is None:
        crop = 0.875 if height >= 128 else 1.0  # ImageNet-size nets: resize 256, crop 224.
    else:
        fields.pop("resize", None)  # the flag overrides the workdir's eval_resize
    classes = model.output_shape[-1]
    if fields.get("labels") is None and classes == 1000:
        fields["labels"] = imagenet_class_names()
    pre = Preprocessing(height=height, width=width, crop_fraction=crop, **fields)
    if pre.labels is not None and len(pre.labels) != classes:
        raise ValueError(f"{len(pre.labels)} labels for a model with {classes} classes.")
    return model, pre


def _logits_model(model):
    """`model` up to its logits: the signatures apply the softmax themselves, so a model built
    with classifier_activation= serves its logits' softmax, not a softmax of probabilities."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Activation) and last.name == "predictions":
        return keras.Model(model.input, last.input, name=model.name)
    return model


def parse_scale(text: str) -> float:
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num) / float(den)
    return float(text)
