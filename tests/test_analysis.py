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
