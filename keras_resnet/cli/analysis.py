"""`keras-resnet-analysis`: Figure 7, the std of each 3x3 layer's responses, for trained runs.

keras-resnet-analysis runs/plain20 runs/resnet20 --out=responses.png [--num_images=500]
"""

from __future__ import annotations

import argparse
import os
import sys

from keras_resnet.cli import startup


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="keras-resnet-analysis", description=__doc__.splitlines()[0]
    )
    parser.add_argument("workdirs", nargs="+", help="training workdirs (model.keras, config.json)")
    parser.add_argument("--out", default="layer_responses.png")
    parser.add_argument("--num_images", type=int, default=500)
    parser.add_argument(
        "--reading",
        choices=("pooled", "per_channel"),
        default="pooled",
        help="std over all elements, or per channel then averaged (keras_resnet.analysis)",
    )
    args = parser.parse_args(argv)
    startup.quiet_tensorflow()
    startup.use_absl_logging(verbosity=0)
    import keras
    import numpy as np

    from keras_resnet.evaluation.analysis import layer_responses, plot_responses, test_images

    curves = {}
    for workdir in args.workdirs:
        path = os.path.join(workdir, "model.keras")
        if not os.path.exists(path):
            print(f"error: {path} not found; train into {workdir} first.", file=sys.stderr)
            return 2
        model = keras.models.load_model(path, safe_mode=True)
        curves[model.name] = layer_responses(
            model, test_images(workdir, args.num_images), reading=args.reading
        )
        stds = [s for _, s in curves[model.name]]
        print(f"{model.name}: {len(stds)} layers, mean std {np.mean(stds):.3f}")
    plot_responses(curves, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
