"""`keras-resnet-export` (`make export`): a workdir or `.keras` file as a TF Serving model.

    keras-resnet-export SOURCE --export_dir=models/NAME [--version=N] [--model_name=NAME]
        [--mean=FILE.npy|R,G,B] [--std=R,G,B] [--scale=1/255] [--labels=FILE]
        [--crop_fraction=F] [--precision=float32|bfloat16|float16]
        [--weights_as_constants=auto|true|false]

The layout written and the signatures are described in keras_resnet.export.savedmodel.
"""

from __future__ import annotations

import os
import sys

from keras_resnet.cli import common, startup

PRECISIONS = ("float32", "bfloat16", "float16")
# auto: keras_resnet.export.savedmodel.constants_by_default; true/false force either way.
WEIGHTS_AS_CONSTANTS = {"auto": "auto", "true": True, "false": False}


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("export_dir", None, "base path, e.g. models/resnet20 (required)", **where)
    flags.DEFINE_integer("version", None, "default: next integer", **where)
    flags.DEFINE_string("model_name", None, "default: basename of export_dir", **where)
    flags.DEFINE_string("scale", None, "pixel scale, e.g. 1/255 (default)", **where)
    flags.DEFINE_string("mean", None, ".npy (3,) or (H,W,3), or R,G,B", **where)
    flags.DEFINE_string("std", None, "per-channel std, R,G,B or .npy", **where)
    flags.DEFINE_string("labels", None, "file with one class name per line", **where)
    flags.DEFINE_integer("image_size", None, "for variable-size models", **where)
    flags.DEFINE_float("crop_fraction", None, "centre crop; 1.0 = none", **where)
    flags.DEFINE_enum(
        "precision",
        "float32",
        list(PRECISIONS),
        "compute precision of the exported graph (inputs and outputs stay float32); "
        "bfloat16 gains on AVX512-BF16/AMX CPUs and Ampere+ GPUs, float16 on GPUs",
        **where,
    )
    flags.DEFINE_enum(
        "weights_as_constants",
        "auto",
        list(WEIGHTS_AS_CONSTANTS),
        "store the weights as graph constants, so that oneDNN keeps its reordered filters; "
        "auto = constants for bfloat16 (faster at batch 1), variables for float32 (no gain "
        "there) and float16 (not profiled); measured in docs/performance.md",
        **where,
    )


def main(argv: list[str] | None = None) -> int:
    values, rest = common.parse_flags("keras-resnet-export", __doc__, _define, argv)
    if len(rest) != 1:
        common.fail(f"give one SOURCE (a training workdir or .keras file), got {rest}.")
    if not values["export_dir"].value:
        common.fail("--export_dir is required, e.g. --export_dir=models/resnet20.")
    source, flag = rest[0], {name: values[name].value for name in values}
    startup.quiet_tensorflow()
    startup.use_absl_logging(verbosity=0)
    from keras_resnet.export import savedmodel

    try:
        model, pre = savedmodel.load_source(
            source,
            **{k: flag[k] for k in ("scale", "mean", "std", "labels", "image_size")},
            crop_fraction=flag["crop_fraction"],
        )
        path = savedmodel.export_model(
            model,
            flag["export_dir"],
            pre,
            version=flag["version"],
            model_name=flag["model_name"],
            source=os.path.abspath(source) if "://" not in source else source,
            precision=flag["precision"],
            weights_as_constants=WEIGHTS_AS_CONSTANTS[flag["weights_as_constants"]],
        )
    except (OSError, ValueError) as e:
        common.fail(str(e))
    print(f"Exported {source} -> {path}")
    print(
        f"Serve it:  keras-resnet-serve --model_config_file={os.path.dirname(path)}/models.config"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
