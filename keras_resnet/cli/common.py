"""Command-line plumbing shared by every console script (keras_resnet.cli, serving tools).

User mistakes (a bad flag or value, an unknown model, a missing file, a workdir holding another
run) must end in one line on stderr, `PROGRAM: error: ...`, and exit status 2, never a
traceback or a page of usage: `fail` writes that line, `run_cli` turns a `UserError` into it,
and `parse_flags` / `run_absl` answer bad flags with it. A transient failure (a lost peer, a
storage timeout) is one line and exit 138. The statuses are the table
keras_resnet.errors.EXIT_CODES. Everything else is a bug and keeps its traceback. Every script
parses absl flags; see docs/design.md, "Command-line tools".
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys

from keras_resnet.cli import startup
from keras_resnet.errors import (
    EXIT,
    TRANSIENT_EXIT,
    USER_ERROR_EXIT,
    Interrupted,
    Transient,
    UserError,
    is_transient,
)


def exit_on_signals() -> None:
    """SIGTERM and Ctrl-C end the process with one line and 128 + the signal until training
    installs its own handlers (keras_resnet.training.interrupts), e.g. while TensorFlow is imported.
    Nothing is being trained then, and every file is written atomically: nothing to save."""

    def handle(signum, frame):
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C (SIGINT)"
        line = f"interrupted: {name} outside training; nothing to save; rerun the same command"
        sys.stderr.flush()
        # While TensorFlow loads, fd 2 is a capture: restore it (and what it held) first.
        os.write(startup.end_capture(), f"{line} to resume.\n".encode())
        sys.exit(128 + signum)  # SystemExit: no traceback, even in the middle of an import

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)


# The running script's name, which heads its error lines (set_program).
_program: str | None = None


def set_program(name: str) -> None:
    """Names the running script in its error lines: `name: error: ...`."""
    global _program
    _program = name


def _error_line(message: str) -> str:
    """`PROGRAM: error: message` on one line (`error: message` before a program is named)."""
    line = " ".join(str(message).split())
    return f"{_program}: error: {line}" if _program else f"error: {line}"


def fail(message: str) -> None:
    """Prints `PROGRAM: error: message` on one line of stderr and exits with USER_ERROR_EXIT."""
    print(_error_line(message), file=sys.stderr, flush=True)
    sys.exit(USER_ERROR_EXIT)


def run_cli(fn, *args, **kwargs):
    """Calls fn; a UserError becomes a one-line message and exit status 2; a handled SIGTERM
    or Ctrl-C (Interrupted) one line and 128 + the signal (143, 130); a bare Ctrl-C 130; a
    transient error (keras_resnet.errors.is_transient) one line and 138."""
    try:
        return fn(*args, **kwargs)
    except UserError as e:
        fail(str(e))
    except Interrupted as e:
        print(f"interrupted: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume.", file=sys.stderr)
        sys.exit(EXIT["interrupted"])
    except Exception as e:
        if not is_transient(e):
            raise
        text = _first_informative_line(str(e)) or type(e).__name__
        kind = "" if isinstance(e, Transient) else f"{type(e).__name__}: "
        print(
            _error_line(
                f"transient, retry: {kind}{text}; rerunning the same command resumes from "
                "the last backup."
            ),
            file=sys.stderr,
            flush=True,
        )
        sys.exit(TRANSIENT_EXIT)


def _first_informative_line(text: str) -> str:
    """TensorFlow's graph errors start with a header and the Python stack that built the node
    ("Graph execution error:", "Detected at node ...", "  File ..."): the line that says what
    happened ("Collective ops is aborted by: ... Connection reset by peer") comes after."""
    for line in text.splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith(_TF_HEADERS):
            return line.strip()[:300]
    return ""


_TF_HEADERS = ("Graph execution error", "Detected at node")
HELP_FLAGS = ("-h", "--help", "-?", "--helpshort", "--helpfull")


def _print_help(doc: str, defined, more: tuple[str, ...] = ()) -> None:
    """The entry module's docstring and its flags (and `more` lines), on stdout; then exit 0."""
    print(doc.strip() + "\n\nflags:" + ("" if defined or more else " none"))
    for flag in defined:
        print(f"  --{flag.name}: {flag.help} (default: {flag.default_as_str})")
    for line in more:
        print(f"  {line}")
    sys.exit(0)


def parse_flags(program: str, doc: str, define, args: list[str] | None = None):
    """(flag values, positional arguments) of `args` (default: sys.argv[1:]) for the flags
    `define(flag_values)` declares.

    The flags live in a FlagValues of their own, not absl's global FLAGS: a `main` can then run
    twice in one process (the demo calls the exporter's, tests call them in turn). A bad flag or
    value is one line under `program` and exit 2; `--help` prints `doc` and the flags, exit 0.
    Nothing heavy is imported here, so a bad flag is answered before TensorFlow loads."""
    from absl import flags

    set_program(program)
    args = list(sys.argv[1:] if args is None else args)
    values = flags.FlagValues()
    define(values)
    if any(a in HELP_FLAGS for a in args):
        _print_help(doc, sorted({values[name] for name in values}, key=lambda f: f.name))
    try:
        rest = values([program, *args])
    except flags.Error as e:  # a bad flag or flag value
        fail(f"{e}; see --help.")
    return values, rest[1:]


def define_options(values, options_class) -> None:
    """One flag per field of a dataclass of options, with the field's name, type and default;
    its help and choices come from the field's metadata (`help`, `choices`)."""
    from absl import flags

    for field in dataclasses.fields(options_class):
        kind, help = str(field.type), field.metadata.get("help") or field.name
        choices = field.metadata.get("choices") or ()
        where = {"flag_values": values}
        if choices and kind == "str":
            flags.DEFINE_enum(field.name, field.default, list(choices), help, **where)
        elif kind == "bool":
            flags.DEFINE_boolean(field.name, field.default, help, **where)
        elif kind.startswith("int"):
            bounds = dict(lower_bound=min(choices), upper_bound=max(choices)) if choices else {}
            flags.DEFINE_integer(field.name, field.default, help, **bounds, **where)
        elif kind.startswith("float"):
            flags.DEFINE_float(field.name, field.default, help, **where)
        else:
            flags.DEFINE_string(field.name, field.default, help, **where)


def options_from(values, options_class, **given):
    """An `options_class` holding the parsed flags `define_options` declared (and `given`)."""
    names = [f.name for f in dataclasses.fields(options_class) if f.name not in given]
    return options_class(**{name: values[name].value for name in names}, **given)


def run_absl(main, argv: list[str], doc: str, program: str) -> None:
    """`absl.app.run(main, argv)` for a console script, with one-line errors for bad flags.

    `--help` prints the entry module's docstring, every flag the module defined and
    `--verbosity`, and exits 0: absl's own help lists only flags defined in `__main__` (a
    console-script wrapper defines none) and exits 1. Logs go through absl's handler, at the
    level `--verbosity` sets (keras_resnet.cli.startup)."""
    from absl import app, flags

    set_program(program)
    flags.FLAGS.set_default("verbosity", 0)  # info: progress lines show unless asked not to
    if any(a in HELP_FLAGS for a in argv[1:]):
        defined = [
            flag
            for module, flags_of in sorted(flags.FLAGS.flags_by_module_dict().items())
            if module.startswith(("keras_resnet", "ml_collections")) or module == argv[0]
            for flag in flags_of
        ]
        verbosity = "--verbosity: log level: -1 warnings only, 0 info, 1 debug (default: 0)"
        _print_help(doc, defined, (verbosity,))

    def parse(args):
        try:
            return flags.FLAGS(args)
        except flags.Error as e:  # a bad flag or flag value: absl would print two lines
            fail(f"{e}; see --help.")
        except (AttributeError, KeyError) as e:  # config_flags, for an unknown --config.KEY
            reason = e
            while isinstance(reason, BaseException) and reason.args:
                reason = reason.args[0]
            fail(f"no such config field: {reason}; flags are --config.KEY=VALUE.")

    def logged_main(args):
        startup.use_absl_logging()  # after parsing: --verbosity has its value
        return main(args)

    app.run(logged_main, argv=argv, flags_parser=parse)
