"""`--config.KEY=VALUE` overrides for tools that build their configs themselves.

`keras-resnet-train` gets its overrides from absl's config_flags. `experiments.run` trains
several configs in one process, so it can't hand one config file to config_flags. It passes the
same flags through `apply`, which asks config_flags to parse them against each config. The
syntax and value parsing are config_flags' own, and there is one override syntax everywhere.
"""

from __future__ import annotations

import re

import ml_collections

from keras_resnet.errors import UserError

FLAG = re.compile(r"^--?config\.[\w.]+=.*$")


def is_override(arg: str) -> bool:
    """True for `--config.KEY=VALUE` (the value joined by `=`, as every tool here writes it)."""
    return FLAG.match(arg) is not None


def apply(config: ml_collections.ConfigDict, args: list[str]) -> ml_collections.ConfigDict:
    """Parses `--config.KEY=VALUE` flags into `config` in place, exactly as config_flags parses
    them for keras-resnet-train. Raises UserError (one line, naming the flag) on an unknown
    key or a value of the wrong type."""
    from absl import flags
    from ml_collections import config_flags

    if not args:
        return config
    bad = [a for a in args if a.startswith("-") and not is_override(a)]
    if bad:
        raise UserError(f"{bad[0]!r} is not a config override; write --config.KEY=VALUE.")
    argv = ["overrides", *args]
    values = flags.FlagValues()
    try:
        holder = config_flags.DEFINE_config_dict(
            "config", config, flag_values=values, sys_argv=argv, lock_config=True
        )
        values(argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as e:
        reason = " ".join(str(e).replace("\\n", " ").strip("'\"").split())
        raise UserError(f"bad config override in {' '.join(args)}: {reason}") from None
    return holder.value
