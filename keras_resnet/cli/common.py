"""Command-line plumbing shared by the entry points in `keras_resnet.cli`.

User mistakes (an unknown model, a dataset that cannot be had, a workdir holding another run)
must end in one line on stderr and a non-zero exit, never a traceback: `run_cli` turns a
`UserError` into exactly that, and a transient failure (a lost peer, a storage timeout) into one
line and exit 138. The statuses are the table keras_resnet.errors.EXIT_CODES. Everything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

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


def fail(message: str) -> None:
    """Prints `error: message` on one line of stderr and exits with USER_ERROR_EXIT."""
    line = " ".join(str(message).split())
    print(f"error: {line}", file=sys.stderr, flush=True)
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
            f"error: transient, retry: {kind}{text}; rerunning the same command resumes from "
            "the last backup.",
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


def run_absl(main, argv: list[str], doc: str) -> None:
    """`absl.app.run(main, argv)` for a console script, with one-line errors for bad flags.

    `--help` prints the entry module's docstring, every flag the module defined and
    `--verbosity`, and exits 0: absl's own help lists only flags defined in `__main__` (a
    console-script wrapper defines none) and exits 1. Logs go through absl's handler, at the
    level `--verbosity` sets (keras_resnet.cli.startup)."""
    from absl import app, flags

    flags.FLAGS.set_default("verbosity", 0)  # info: progress lines show unless asked not to
    if any(a in HELP_FLAGS for a in argv[1:]):
        print(doc.strip() + "\n\nflags:")
        for module, defined in sorted(flags.FLAGS.flags_by_module_dict().items()):
            if module.startswith(("keras_resnet", "ml_collections")) or module == argv[0]:
                for flag in defined:
                    print(f"  --{flag.name}: {flag.help} (default: {flag.default_as_str})")
        print("  --verbosity: log level: -1 warnings only, 0 info, 1 debug (default: 0)")
        sys.exit(0)

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
