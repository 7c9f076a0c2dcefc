"""Figure 7's layer-response analysis."""

import keras
import numpy as np

import keras_resnet
from keras_resnet.evaluation.analysis import layer_responses, plot_responses, response_layers


def test_response_layers_are_the_3x3_bns():
    model = keras_resnet.create_model("resnet20")
    names = response_layers(model)
    assert len(names) == 19  # the stem + 2 per block x 9 blocks
    assert names[0] == "stem_bn" and names[-1] == "stage3_block3_bn2"
    bottleneck = response_layers(keras_resnet.create_model("resnet50"))
    assert len(bottleneck) == 16 and all(n.endswith("_bn2") for n in bottleneck)


def test_layer_responses_match_direct_std(tmp_path):
    model = keras_resnet.create_model("plain20")
    images = np.random.default_rng(0).normal(size=(20, 32, 32, 3)).astype("float32")
    got = dict(layer_responses(model, images, batch_size=7))  # uneven batches on purpose
    bn = model.get_layer("stage2_block2_bn1")
    direct = keras.Model(model.input, bn.output)(images, training=False)
    np.testing.assert_allclose(got["stage2_block2_bn1"], np.std(np.asarray(direct)), rtol=1e-4)
    plot_responses({"plain20": list(got.items())}, str(tmp_path / "fig7.png"))
    assert (tmp_path / "fig7.png").stat().st_size > 1000


def test_per_channel_reading_excludes_the_spread_of_channel_means():
    model = keras_resnet.create_model("plain20")
    bn = model.get_layer("stage1_block1_bn1")
    rng = np.random.default_rng(1)
    gamma, beta, mean, var = bn.get_weights()
    beta = rng.normal(scale=3.0, size=beta.shape).astype("float32")  # far-apart channel means
    bn.set_weights([gamma, beta, mean, var])
    images = rng.normal(size=(12, 32, 32, 3)).astype("float32")
    direct = np.asarray(keras.Model(model.input, bn.output)(images, training=False))
    pooled = dict(layer_responses(model, images, batch_size=5))[bn.name]
    per_channel = dict(layer_responses(model, images, batch_size=5, reading="per_channel"))
    np.testing.assert_allclose(pooled, np.std(direct), rtol=1e-4)
    np.testing.assert_allclose(
        per_channel[bn.name], np.std(direct, axis=(0, 1, 2)).mean(), rtol=1e-4
    )
    assert per_channel[bn.name] < 0.75 * pooled  # the betas' spread is in the pooled std only
