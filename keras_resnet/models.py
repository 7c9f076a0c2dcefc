"""`python -m keras_resnet.models` (or `make models`): a table of every registered model.

Usage: python -m keras_resnet.models
"""

from __future__ import annotations

import argparse
import os
import sys


def model_rows() -> list[dict]:
    """One row per registered model: depth, family, block, default shortcut, params, GFLOPs."""
    import keras_resnet

    rows = []
    for name in keras_resnet.list_models():
        spec = keras_resnet.get_spec(name)
        model = keras_resnet.create_model(name)
        params = sum(int(w.numpy().size) for w in model.trainable_weights)
        rows.append(
            {
                "model": name,
                "depth": spec.depth,
                "dataset": spec.family,
                "block": spec.block,
                "stages": "-".join(map(str, spec.stage_sizes)),
                "shortcut": spec.default_shortcut or "none",
                "params": params,
                "gflops": keras_resnet.count_flops(model) / 1e9,
            }
        )
        del model
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table (also readable as plain text)."""
    header = "| model | depth | dataset | block | blocks/stage | shortcut | params | GFLOPs |"
    lines = [header, "|---|---:|---|---|---|---|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['depth']} | {r['dataset']} | {r['block']} | {r['stages']} | "
            f"{r['shortcut']} | {r['params']:,} | {r['gflops']:.3f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(
        "Trainable parameters at the default class count; GFLOPs are multiply-adds x 10^9 at the "
        "default input (224x224 ImageNet, 32x32 CIFAR), as in the paper's Table 1.\n",
        file=sys.stderr,
    )
    print(format_table(model_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
