"""piXL Studio entry point: the GUI by default, CLI subcommands for headless work.

    python main.py                      # the desktop app
    python main.py palettes             # list shipped palettes
    python main.py convert IMAGE ...    # fast CPU converter
    python main.py generate --prompt .. # SD-piXL optimisation
    python main.py export PATTERN.pixl --format ...
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from app.cli import COMMAND_MODULES, is_user_error, user_message


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit code 2), like every other error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message.splitlines()[0] if message else 'bad arguments'} "
                     f"(see `{self.prog} -h`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = OneLineParser(
        prog="pixl", description="piXL Studio: pictures to bead, brick and stitch patterns")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI (or the GUI when no subcommand is given); returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    files = [a for a in argv if not a.startswith("-")]
    if files and files[0] not in {m.__name__.rsplit(".", 1)[-1].removesuffix("_cmd") for m in COMMAND_MODULES}:
        # `python main.py picture.jpg` / `project.pixl`: open the GUI with those files.
        missing = [f for f in files if not os.path.exists(f)]
        if missing:
            parser.error(f"{missing[0]!r} is neither a command nor an existing file")
        from app.gui.main_window import run_gui

        return run_gui(sys.argv[:1] + files)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.captureWarnings(True)  # library warnings (torch, Pillow) are details: shown with -v only
    logging.getLogger("py.warnings").setLevel(logging.WARNING if args.verbose else logging.ERROR)
    if args.command is None:
        from app.gui.main_window import run_gui

        return run_gui(sys.argv[:1])
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as exc:  # never a traceback for the user; details with -v
        if is_user_error(exc):
            logging.getLogger("pixl").debug("user error", exc_info=True)
            print(f"error: {user_message(exc)}", file=sys.stderr)
            return 2
        logging.getLogger("pixl").debug("unexpected error", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
