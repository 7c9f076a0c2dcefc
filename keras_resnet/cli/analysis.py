"""`keras-resnet-analysis`: Figure 7, the std of each 3x3 layer's responses, for trained runs.

keras-resnet-analysis runs/plain20 runs/resnet20 --out=responses.png [--num_images=500]
"""

from __future__ import annotations

import os
import sys

from keras_resnet.cli import common, extras, startup

READINGS = ("pooled", "per_channel")


def _define(values) -> None:
    from absl import flags

    where = {"flag_values": values}
    flags.DEFINE_string("out", "layer_responses.png", "the figure written", **where)
    flags.DEFINE_integer("num_images", 500, "test images per run", lower_bound=1, **where)
    flags.DEFINE_enum(
        "reading",
        "pooled",
        list(READINGS),
        "std over all elements, or per channel then averaged (keras_resnet.analysis)",
        **where,
    )


def main(argv: list[str] | None = None) -> int:
    values, workdirs = common.parse_flags("keras-resnet-analysis", __doc__, _define, argv)
    if not workdirs:
        common.fail("give one or more training workdirs (holding model.keras and config.json).")
    extras.require("experiments")  # the figure is drawn with matplotlib
    for workdir in workdirs:
        path = os.path.join(workdir, "model.keras")
        if not os.path.exists(path):
            common.fail(f"{path} not found; train into {workdir} first.")
    out, num_images, reading = (values[n].value for n in ("out", "num_images", "reading"))
    startup.quiet_tensorflow()
    startup.use_absl_logging(verbosity=0)
    import keras
    import numpy as np

    from keras_resnet.evaluation.analysis import layer_responses, plot_responses, test_images

    curves = {}
    for workdir in workdirs:
        path = os.path.join(workdir, "model.keras")
        model = keras.models.load_model(path, safe_mode=True)
        curves[model.name] = layer_responses(
            model, test_images(workdir, num_images), reading=reading
        )
        stds = [s for _, s in curves[model.name]]
        print(f"{model.name}: {len(stds)} layers, mean std {np.mean(stds):.3f}")
    plot_responses(curves, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
