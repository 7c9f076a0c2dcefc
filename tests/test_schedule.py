"""The learning-rate schedules and run lengths of the paper's recipes (pure functions)."""

import keras
import pytest

from keras_resnet.configs import cifar10, imagenet
from keras_resnet.training import callbacks as cb
from keras_resnet.training import train


def test_cifar_step_schedule_divides_at_32k_and_48k_of_64k():
    config = cifar10.get_config("resnet20")
    total = config.train_steps
    f = lambda s: cb.step_factor(s, total, config.lr_boundaries, config.lr_decay)  # noqa: E731
    assert [f(0), f(31_999), f(32_000), f(47_999), f(48_000), f(63_999)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01]
    )


def test_imagenet_step_schedule_is_epochs_30_and_60_of_90():
    config = imagenet.get_config("resnet50")
    total, spe = 90 * 5004, 5004
    f = lambda e: cb.step_factor(e * spe, total, config.lr_boundaries, 0.1)  # noqa: E731
    assert [f(29), f(30), f(59), f(60), f(89)] == pytest.approx([1, 0.1, 0.1, 0.01, 0.01])


def test_plateau_reductions():
    assert cb.plateau_reductions([50, 40, 30], patience=2, min_delta=0.1) == 0
    assert cb.plateau_reductions([50, 40, 40, 40], patience=2, min_delta=0.1) == 1
    # After a reduction the patience counter starts again.
    assert cb.plateau_reductions([50, 40, 40, 40, 40, 40], patience=2, min_delta=0.1) == 2
    assert cb.plateau_reductions([50, 40, 39.95, 39.9], patience=2, min_delta=0.1) == 1


def test_run_length_and_scale():
    config = cifar10.get_config("resnet20")
    # 64k steps of batch 128 on 50k images (390 steps an epoch): 165 epochs, the last partial.
    assert train.run_length(config, 50_000, 390) == (64_000, 165)
    config.scale = 0.01  # 1% of the steps on 1% of the data (3 steps an epoch)
    assert train.run_length(config, 50_000, 3) == (640, 214)
    config = cifar10.get_config("resnet20")
    config.num_epochs = 30  # make train EPOCHS=30 on digits
    assert train.run_length(config, 1437, 11) == (330, 30)


def test_resnet110_warms_up_until_error_below_80_percent(tmp_path):
    config = cifar10.get_config("resnet110")
    assert config.warmup == "until_error" and cifar10.get_config("resnet56").warmup == "none"
    lr = cb.LearningRate(
        cb.Schedule.of(config), 0.1, steps_per_epoch=10, total_steps=100, workdir=str(tmp_path)
    )
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.5))
    lr.set_model(model)
    lr.on_train_begin()
    lr.on_train_batch_begin(0)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    lr.on_train_batch_end(0, {"top1": 0.15})  # 85% error: still warming up
    lr.on_train_batch_begin(1)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    lr.on_train_batch_end(1, {"top1": 0.25})  # 75% error: back to 0.1
    lr.on_train_batch_begin(2)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)
    # A restarted run reads the saved end of warm-up and does not warm up again.
    again = cb.LearningRate(
        cb.Schedule.of(config), 0.1, steps_per_epoch=10, total_steps=100, workdir=str(tmp_path)
    )
    again.set_model(model)
    again.on_train_begin()
    assert again.warmup_end == 2 and again.rate() == pytest.approx(0.1)


def test_linear_warmup_and_lr_scaling():
    config = imagenet.get_config("resnet50")
    config.warmup, config.warmup_epochs = "linear", 2
    lr = cb.LearningRate(
        cb.Schedule.of(config), 0.4, steps_per_epoch=10, total_steps=900, workdir="/nonexistent"
    )
    lr.step, lr.warmup_end, lr.val_errors = 0, None, []
    assert lr.rate() == pytest.approx(0.02)
    lr.step = 19
    assert lr.rate() == pytest.approx(0.4)


def test_imagenet_plateau_recipe_is_the_papers_and_reads_a_held_out_split():
    """Section 3.4: lr 0.1 divided by 10 on plateaus, up to 600k iterations at batch 256; the
    plateau signal comes from 50k held-out training images (data.val_split)."""
    from experiments import paper

    config = imagenet.get_config("resnet50,plateau")
    assert (config.model, config.lr_schedule, config.train_steps) == (
        "resnet50",
        "plateau",
        600_000,
    )
    assert config.num_epochs is None and config.data.val_split == 50_000
    assert train.validate(config).name == "resnet50"
    # 1,281,167 images less the 50k held out, at batch 256: the run is 600k steps long.
    assert train.run_length(config, 1_281_167 - 50_000, 4809)[0] == 600_000
    setting = paper.IMAGENET_SETTING
    assert (config.dataset, config.batch_size, config.lr_schedule, config.scale) == (
        setting["dataset"], setting["batch_size"], setting["lr_schedule"], setting["scale"]
    )  # fmt: skip
    # The default recipe stays the 90-epoch step schedule, with no held-out split.
    default = imagenet.get_config("resnet50")
    assert (default.lr_schedule, default.num_epochs, default.data.val_split) == ("step", 90, 0)
    assert default.to_dict() == imagenet.get_config("resnet50,step90").to_dict()
    with pytest.raises(ValueError, match="unknown ImageNet recipe 'cosine' in 'resnet50,cosine'"):
        imagenet.get_config("resnet50,cosine")


def test_plateau_without_a_held_out_split_is_refused_in_one_line():
    from keras_resnet.errors import UserError

    for config in (imagenet.get_config("resnet50,plateau"), cifar10.get_config("resnet20")):
        config.lr_schedule, config.data.val_split = "plateau", 0
        with pytest.raises(UserError) as e:
            train.validate(config)
        message = str(e.value)
        assert "\n" not in message and "config.data.val_split=0" in message
        assert "--config.data.val_split=N" in message


def test_plateau_recipe_loads_through_the_train_command_line_syntax():
    """`--config=keras_resnet/configs/imagenet.py:resnet50,plateau`, parsed by config_flags
    as keras-resnet-train parses it."""
    import os

    from absl import flags
    from ml_collections import config_flags

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "keras_resnet", "configs", "imagenet.py")
    argv = ["train", f"--config={path}:resnet18,plateau", "--config.data.val_split=10000"]
    values = flags.FlagValues()
    holder = config_flags.DEFINE_config_file("config", flag_values=values, sys_argv=argv)
    values(argv)
    config = holder.value
    assert (config.model, config.lr_schedule, config.data.val_split) == (
        "resnet18",
        "plateau",
        10_000,
    )


def test_a_table_in_the_papers_setting_is_the_plateau_recipe():
    """docs/training.md's overrides turn a Table 3 row into the plateau recipe."""
    from experiments import table3
    from keras_resnet.configs import overrides

    flags = ["--config.lr_schedule=plateau", "--config.train_steps=600000",
             "--config.num_epochs=0", "--config.data.val_split=50000"]  # fmt: skip
    row = overrides.apply(table3.get_config("resnet50"), flags)
    paper = imagenet.get_config("resnet50,plateau")
    assert train.run_length(row, 1_231_167, 4809) == train.run_length(paper, 1_231_167, 4809)
    for key in ("lr_schedule", "train_steps", "batch_size", "learning_rate", "dataset"):
        assert row[key] == paper[key], key
    assert row.data.val_split == paper.data.val_split


def test_the_schedule_gets_its_own_fields_and_their_defaults_are_base_configs():
    """LearningRate is given a Schedule, not the config; a default Schedule is the default
    run's schedule."""
    from keras_resnet.configs import base

    config = base.base_config()
    assert cb.Schedule.of(config) == cb.Schedule()
    config.update(lr_schedule="plateau", lr_boundaries=[0.3, 0.6], warmup="linear")
    schedule = cb.Schedule.of(config)
    assert (schedule.lr_schedule, schedule.lr_boundaries, schedule.warmup) == (
        "plateau",
        (0.3, 0.6),
        "linear",
    )
