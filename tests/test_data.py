"""Input pipelines: sources, the paper's augmentations, TFDS paths through mock_data."""

import os

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_resnet import data
from keras_resnet.configs import cifar10, imagenet
from keras_resnet.data import augment
from keras_resnet.errors import UserError
from keras_resnet.training import inputs


def _cifar_config(**overrides):
    config = cifar10.get_config("resnet8")
    config.batch_size = 8
    config.update(overrides)
    return config


def test_digits_is_offline_fixed_and_32x32_rgb():
    a, b = data.load_source("digits", model_style=data.SMALL, model_classes=10), None
    b = data.load_source("digits", model_style=data.SMALL, model_classes=10)
    assert (a.num_train, a.num_test, a.num_classes, a.flip) == (1437, 360, 10, False)
    xa, ya = next(iter(a.test.batch(360)))
    xb, yb = next(iter(b.test.batch(360)))
    assert xa.shape == (360, 32, 32, 3) and xa.dtype == tf.uint8
    np.testing.assert_array_equal(xa, xb)  # the split is fixed
    np.testing.assert_array_equal(ya, yb)
    assert xa.numpy().max() > 200 and np.all(xa[..., 0] == xa[..., 2])  # grey, full range
    assert sorted(np.unique(ya.numpy())) == list(range(10))


def test_small_train_pads_crops_and_keeps_shape():
    image = tf.fill((32, 32, 3), tf.constant(255, tf.uint8))
    mean = np.full((32, 32, 3), 0.5, np.float32)
    outs = np.stack([augment.small_train(image, mean).numpy() for _ in range(20)])
    assert outs.shape == (20, 32, 32, 3)
    # Pixels are 1 - 0.5 = 0.5 inside the image, 0 in the 4-pixel zero padding; some crops
    # must show padding, and none can show more than 4 rows or columns of it.
    assert set(np.unique(outs)) <= {0.0, 0.5}
    assert (outs == 0).any()
    assert (outs[:, 4:28, 4:28] == 0.5).all()


def test_imagenet_views_sizes_and_lighting():
    image = tf.cast(tf.random.uniform((300, 400, 3), 0, 256, tf.int32), tf.uint8)
    mean = np.zeros((224, 224, 3), np.float32)
    assert augment.imagenet_train(image, mean).shape == (224, 224, 3)
    assert augment.resize_shorter(image, 256).shape == (256, 341, 3)
    centre = augment.imagenet_eval(image, mean)
    expected = augment.center_crop(augment.resize_shorter(augment.to_unit(image), 256), 224)
    np.testing.assert_allclose(centre, expected)
    crops = augment.ten_crop(image, mean, crop=224, resize=256)
    assert crops.shape == (10, 224, 224, 3)
    np.testing.assert_allclose(crops[5], tf.image.flip_left_right(crops[0]))
    np.testing.assert_allclose(crops[4], centre, atol=1e-6)
    # With a real mean, each crop (and each mirror) is normalised as the centre crop is: the
    # crop-sized mean subtracted pixel for pixel from that view.
    mean = np.random.default_rng(0).uniform(0, 1, (224, 224, 3)).astype(np.float32)
    crops = augment.ten_crop(image, mean, crop=224, resize=256)
    resized = augment.resize_shorter(augment.to_unit(image), 256)
    np.testing.assert_allclose(crops[4], augment.imagenet_eval(image, mean), atol=1e-6)
    np.testing.assert_allclose(crops[0], resized[:224, :224] - mean, atol=1e-6)
    mirror = tf.image.flip_left_right(resized[:224, :224]) - mean
    np.testing.assert_allclose(crops[5], mirror, atol=1e-6)
    # PCA lighting adds one RGB offset to every pixel, spanned by the AlexNet eigenvectors.
    flat = tf.zeros((8, 8, 3))
    shift = augment.lighting(flat).numpy()
    assert np.allclose(shift, shift[0, 0]) and np.abs(shift).max() > 0


def test_cifar10_through_tfds_mock_with_val_split_and_saved_mean(tmp_path):
    config = _cifar_config()
    config.data.val_split = 20
    with tfds.testing.mock_data(num_examples=100):
        source = data.load_source("cifar10", model_style=data.SMALL, model_classes=10)
        ds = data.build(source, inputs.pipeline_settings(config), workdir=str(tmp_path))
        x, y = next(iter(ds.train))
        again = data.build(source, inputs.pipeline_settings(config), workdir=str(tmp_path))
    assert (ds.num_train, ds.num_val, ds.steps_per_epoch, ds.input_shape) == (
        80,
        20,
        10,
        (32, 32, 3),
    )
    assert x.shape == (8, 32, 32, 3) and x.dtype == tf.float32 and y.shape == (8,)
    saved = np.load(tmp_path / data.MEAN_FILE)
    np.testing.assert_array_equal(saved, ds.mean)
    np.testing.assert_array_equal(again.mean, ds.mean)
    assert 0.3 < float(saved.mean()) < 0.7  # uniform random mock pixels average ~0.5
    assert sum(int(b[1].shape[0]) for b in ds.val) == 20


def test_imagenet2012_through_tfds_mock():
    config = imagenet.get_config("resnet18")
    config.batch_size = 4
    config.data.update(image_size=32, scale_range=(36, 48), eval_resize=36, mean_examples=10)
    with tfds.testing.mock_data(num_examples=12):
        source = data.load_source("imagenet2012", model_style=data.IMAGENET, model_classes=1000)
        ds = data.build(source, inputs.pipeline_settings(config))
        x, _ = next(iter(ds.train))
        v, _ = next(iter(ds.test))
    assert source.num_classes == 1000 and source.style == data.IMAGENET
    assert x.shape == (4, 32, 32, 3) and v.shape[1:] == (32, 32, 3)
    assert ds.mean.shape == (32, 32, 3)


def test_imagenet_missing_names_manual_dir(tmp_path):
    with pytest.raises(data.DatasetUnavailable, match="manual_dir=.*manual") as e:
        data.load_source(
            "imagenet2012", model_style=data.IMAGENET, model_classes=1000, data_dir=str(tmp_path)
        )
    assert "ILSVRC2012_img_train.tar" in str(e.value)


def test_unknown_dataset_is_a_user_error():
    with pytest.raises(UserError, match="unknown dataset 'mnist'.*digits"):
        data.load_source("mnist", model_style=data.SMALL, model_classes=10)


def test_image_folder_classes_split_and_resize(tmp_path):
    for cls, value in (("cat", 30), ("dog", 220)):
        os.makedirs(tmp_path / cls)
        for i in range(10):
            png = tf.io.encode_png(tf.fill((20, 24, 3), tf.constant(value, tf.uint8)))
            tf.io.write_file(str(tmp_path / cls / f"{i}.png"), png)
    source = data.load_source(f"image_folder:{tmp_path}", model_style=data.SMALL, model_classes=10)
    assert (source.num_classes, source.num_train, source.num_test) == (2, 18, 2)
    for x, y in source.train:
        assert x.shape == (32, 32, 3)
        assert int(x[0, 0, 0]) == (30 if int(y) == 0 else 220)  # label follows the folder
    with pytest.raises(data.DatasetUnavailable, match="not a directory"):
        data.load_source(f"image_folder:{tmp_path}/nope", model_style=data.SMALL, model_classes=2)


def test_synthetic_and_scale():
    src = data.load_source("synthetic", model_style=data.IMAGENET, model_classes=1000)
    x, y = next(iter(src.train))
    assert x.shape == (224, 224, 3) and 0 <= int(y) < 1000
    train, val, test, counts = data.split(src, val_split=0, scale=0.01)
    assert counts == (100, 100, 100)  # 1% of 10k; evaluation keeps at least 100
    assert sum(1 for _ in train) == 100


def test_batch_larger_than_data_is_a_user_error():
    config = ml_collections.ConfigDict(_cifar_config().to_dict())
    config.batch_size = 4096
    source = data.load_source("digits", model_style=data.SMALL, model_classes=10)
    with pytest.raises(UserError, match="fewer than one batch"):
        data.build(source, inputs.pipeline_settings(config))


def test_test_time_views_without_mirrors_match_the_single_view():
    image = tf.cast(tf.random.uniform((32, 32, 3), 0, 256, tf.int32), tf.uint8)
    mean = np.full((32, 32, 3), 0.25, np.float32)
    single = augment.small_eval(image, mean)
    at_32 = augment.multiscale_views(image, mean, side=32, flip=False)
    assert at_32.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(at_32[0], single, atol=1e-6)  # a resize to its own size
    bigger = augment.multiscale_views(image, mean, side=64)
    assert bigger.shape == (2, 64, 64, 3)  # the mean image is resized along
    assert augment.ten_crop(image, mean, crop=32, resize=37, flip=False).shape == (5, 32, 32, 3)


def test_large_sets_train_on_a_fresh_file_order_unless_a_split_needs_the_fixed_one():
    """ImageNet-style TFDS sets train from `shuffled_train(seed)` (TFDS file shuffling, new
    each epoch); a validation split or a `scale` subset is taken off the fixed order."""
    images = tf.zeros((8, 40, 40, 3), tf.uint8)
    fixed = tf.data.Dataset.from_tensor_slices((images, tf.zeros(8, tf.int32)))
    seeds = []

    def shuffled(seed):
        seeds.append(seed)
        return tf.data.Dataset.from_tensor_slices((images, tf.ones(8, tf.int32)))

    source = data.Source("big", fixed, fixed, 8, 8, 2, data.IMAGENET, shuffled_train=shuffled)
    config = _cifar_config()
    config.batch_size, config.seed = 4, 7
    config.data.update(image_size=32, scale_range=(36, 40), eval_resize=36, mean_examples=4)

    def first_labels(**changes):
        config.data.val_split = changes.get("val_split", 0)
        config.scale = changes.get("scale", 1.0)
        _, y = next(iter(data.build(source, inputs.pipeline_settings(config)).train))
        return set(y.numpy().tolist())

    assert first_labels() == {1} and seeds == [7]
    assert first_labels(val_split=2) == {0}
    assert first_labels(scale=0.5) == {0}


def test_pipeline_settings_are_the_configs_data_fields_and_their_defaults_agree():
    """data.build sees only PipelineSettings; the settings' defaults are base config's, so a
    settings object made by hand describes the same pipeline as a default run's."""
    from keras_resnet.configs import base

    config = base.base_config()
    assert inputs.pipeline_settings(config) == data.PipelineSettings(batch_size=config.batch_size)
    config.data.update(val_split=7, image_size=64, scale_range=(72, 96), pca_lighting=False)
    config.update(scale=0.5, seed=3)
    settings = inputs.pipeline_settings(config)
    assert (settings.val_split, settings.image_size, settings.scale_range) == (7, 64, (72, 96))
    assert (settings.pca_lighting, settings.scale, settings.seed) == (False, 0.5, 3)
