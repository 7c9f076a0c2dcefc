"""The table of every registered model that `keras-resnet-models` (`make models`) prints and the
README shows: depth, block, stage sizes, default shortcut, parameters and FLOPs."""

from __future__ import annotations


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
