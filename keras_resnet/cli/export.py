"""`keras-resnet-export` (`make export`): a workdir or `.keras` file as a TF Serving model.

    keras-resnet-export SOURCE --export_dir=models/NAME [--version=N] [--model_name=NAME]
        [--mean=FILE.npy|R,G,B] [--std=R,G,B] [--scale=1/255] [--labels=FILE]
        [--crop_fraction=F] [--precision=float32|bfloat16|float16] [--weights_as_constants]

The layout written and the signatures are described in keras_resnet.export.savedmodel.
"""

from __future__ import annotations

import argparse
import os
import sys

from keras_resnet.cli import startup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="keras-resnet-export", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="training workdir or .keras file")
    parser.add_argument("--export_dir", required=True, help="base path, e.g. models/resnet20")
    parser.add_argument("--version", type=int, default=None, help="default: next integer")
    parser.add_argument("--model_name", default=None, help="default: basename of export_dir")
    parser.add_argument("--scale", default=None, help="pixel scale, e.g. 1/255 (default)")
    parser.add_argument("--mean", default=None, help=".npy (3,) or (H,W,3), or R,G,B")
    parser.add_argument("--std", default=None, help="per-channel std, R,G,B or .npy")
    parser.add_argument("--labels", default=None, help="file with one class name per line")
    parser.add_argument("--image_size", type=int, default=None, help="for variable-size models")
    parser.add_argument("--crop_fraction", type=float, default=None, help="centre crop; 1.0 = none")
    parser.add_argument(
        "--precision",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="compute precision of the exported graph (inputs and outputs stay float32); "
        "bfloat16 gains on AVX512-BF16/AMX CPUs and Ampere+ GPUs, float16 on GPUs",
    )
    parser.add_argument(
        "--weights_as_constants",
        action="store_true",
        help="store the weights as graph constants: oneDNN then keeps its reordered filters "
        "(faster small batches on CPUs, most in bfloat16); see README 'The served model'",
    )
    args = parser.parse_args(argv)
    startup.quiet_tensorflow()
    startup.use_absl_logging(verbosity=0)
    from keras_resnet.export import savedmodel

    try:
        model, pre = savedmodel.load_source(args.source, args)
        path = savedmodel.export_model(
            model,
            args.export_dir,
            pre,
            version=args.version,
            model_name=args.model_name,
            source=os.path.abspath(args.source) if "://" not in args.source else args.source,
            precision=args.precision,
            weights_as_constants=args.weights_as_constants,
        )
    except (OSError, ValueError) as e:
        print(f"export: error: {e}", file=sys.stderr)
        return 2
    print(f"Exported {args.source} -> {path}")
    print(
        f"Serve it:  keras-resnet-serve --model_config_file={os.path.dirname(path)}/models.config"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
