"""Figure 7's layer-response analysis: the standard deviation of every 3x3 layer's response,
taken after its BN and before the addition and the ReLU (paper Section 4.2, "Analysis of Layer
Responses"). The paper finds ResNets' responses generally smaller than plain nets', and smaller
for deeper ResNets: residual functions stay closer to zero than unreferenced ones.

Library:  keras_resnet.analysis.layer_responses(model, images) -> [(layer_name, std), ...]
CLI:      keras-resnet-analysis WORKDIR [WORKDIR ...] --out=fig7.png [--num_images=500]
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np


def response_layers(model: keras.Model) -> list[str]:
    """Names of the BN layers that follow a 3x3 conv, in network order (stem included)."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == (3, 3):
            # stem_conv -> stem_bn; stage2_block1_conv2 -> stage2_block1_bn2 (blocks.conv_bn).
            head, _, index = layer.name.rpartition("_conv")
            bn = f"{head}_bn{index}"
            names.append(bn)
    return names


# Two readings of "the std of the layer responses" (the paper does not say which):
# - "pooled" (default): the std over every element of the response, batch, space and channels
#   together. It includes the spread of the channel means (BN's beta shifts each channel).
# - "per_channel": the std of each channel over batch and space, averaged over the channels: the
#   spread within a channel only (after inference-mode BN, close to |gamma| per channel).
READINGS = ("pooled", "per_channel")


def layer_responses(
    model: keras.Model, images, batch_size: int = 128, reading: str = "pooled"
) -> list[tuple[str, float]]:
    """Std of each 3x3 layer's response (after BN, before addition/ReLU) over `images`.

    BN runs in inference mode (moving statistics), as in the paper, which measures the trained
    network at test time. `reading` picks how the std is taken (READINGS, explained above).
    """
    if reading not in READINGS:
        raise ValueError(f"reading={reading!r}; choose one of {', '.join(READINGS)}.")
    names = response_layers(model)
    if not names:
        raise ValueError(f"Model {model.name!r} has no 3x3 conv layers to analyse.")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    images = np.asarray(images, np.float32)
    # Streaming moments per layer and channel: sums of x and x^2 in float64, so any number of
    # images fits; the pooled reading sums them over the channels at the end.
    sums: list = [None] * len(names)
    count = np.zeros(len(names))
    for start in range(0, len(images), batch_size):
        outs = probe(images[start : start + batch_size], training=False)
        for i, out in enumerate(outs):
            out = np.asarray(out, np.float64).reshape(-1, out.shape[-1])
            moments = np.stack([out.sum(axis=0), np.square(out).sum(axis=0)])
            sums[i] = moments if sums[i] is None else sums[i] + moments
            count[i] += out.shape[0]
    stds = []
    for moments, n in zip(sums, count):
        if reading == "pooled":
            elements = n * moments.shape[1]
            mean = moments[0].sum() / elements
            std = np.sqrt(max(moments[1].sum() / elements - mean**2, 0.0))
        else:
            per_channel = np.maximum(moments[1] / n - (moments[0] / n) ** 2, 0.0)
            std = np.mean(np.sqrt(per_channel))
        stds.append(float(std))
    return list(zip(names, stds))


def plot_responses(curves: dict[str, list[tuple[str, float]]], path: str, title: str = "") -> None:
    """Figure 7's two panels: std by layer index, and std sorted by magnitude."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7))
    for label, values in curves.items():
        stds = [s for _, s in values]
        style = "--" if label.startswith("plain") else "-"
        top.plot(range(1, len(stds) + 1), stds, style, label=label)
        bottom.plot(range(1, len(stds) + 1), sorted(stds, reverse=True), style, label=label)
    top.set(xlabel="layer index (original)", ylabel="std")
    bottom.set(xlabel="layer index (sorted by magnitude)", ylabel="std")
    top.legend(fontsize=8)
    if title:
        top.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def test_images(workdir: str, num_images: int) -> np.ndarray:
    """The workdir's own test split, preprocessed exactly as in training's evaluation."""
    import ml_collections

    from keras_resnet import data
    from keras_resnet.models import registry
    from keras_resnet.training import inputs

    with open(os.path.join(workdir, "config.json")) as f:
        config = ml_collections.ConfigDict(json.load(f))
    source = inputs.source_for_config(config, registry.get_spec(config.model))
    ds = data.build(source, inputs.pipeline_settings(config), workdir=workdir, write_mean=False)
    batches = [x.numpy() for x, _ in ds.test.unbatch().take(num_images).batch(256)]
    return np.concatenate(batches)
