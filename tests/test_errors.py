"""Bad arguments raise a ValueError that echoes the bad value."""

import pytest

import keras_resnet


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "resnet19"}, r"'resnet19'.*resnet18, resnet34"),
        ({"name": "vgg16"}, r"Unknown model 'vgg16'"),
        ({"name": "resnet20", "shortcut": "D"}, r"'D'"),
        ({"name": "plain20", "shortcut": "A"}, r"plain20.*shortcut='A'"),
        ({"name": "resnet50", "variant": "v2"}, r"'v2'"),
        ({"name": "resnet20", "num_classes": 0}, r"num_classes.*0"),
        ({"name": "resnet20", "input_shape": (32, 32)}, r"\(32, 32\)"),
        ({"name": "resnet20", "dropout": 0.5}, r"dropout"),
        ({"name": "resnet20", "weight_decay": -1.0}, r"-1.0"),
    ],
)
def test_create_model_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_resnet.create_model(**kwargs)


def test_count_flops_needs_a_size():
    model = keras_resnet.create_model("resnet20", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"input_shape"):
        keras_resnet.count_flops(model)
