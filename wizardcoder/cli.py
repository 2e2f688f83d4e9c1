"""The `wizardcoder` command: thin. Parse, then hand over to one stage's `command` module.

Each stage lives in `wizardcoder/<stage>/command.py` with `HELP`, `EXAMPLES`,
`add_arguments(parser)` and `run(args) -> int`; it is imported only when its subcommand runs,
so `wizardcoder --help` stays fast and a missing optional extra only hurts the stage that needs it.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
from collections.abc import Sequence

from wizardcoder import __version__
from wizardcoder.errors import UserError
from wizardcoder.llm import LLMError

STAGES = {
    "evolve": "wizardcoder.evolve.command",
    "train": "wizardcoder.train.command",
    "eval": "wizardcoder.eval.command",
    "config": "wizardcoder.config_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wizardcoder",
        description="Evolve programming tasks into an execution-verified dataset, train on it, evaluate.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  wizardcoder evolve --lang python                # embedded model, built-in seeds\n"
            "  wizardcoder train --data runs/evolve/<id>/dataset --model smollm2-135m-instruct\n"
            "  wizardcoder eval humaneval --model runs/train/<id>/adapter\n"
            "  wizardcoder config show evolve                  # every setting, its default and its help\n"
        ),
    )
    parser.add_argument("--version", action="version", version=f"wizardcoder {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", metavar="{" + ",".join(STAGES) + "}")
    for stage, name in STAGES.items():
        module = importlib.import_module(name)
        p = sub.add_parser(
            stage,
            help=module.HELP,
            description=module.HELP,
            epilog="examples:\n" + module.EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `key=value` overrides may come after flags too (`eval humaneval --model M generation.n=5`):
    # argparse binds a positional list once, so later ones arrive here as extras
    stray = [item for item in extra if item.startswith("-") or "=" not in item]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = list(args.overrides or []) + extra
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    _quiet_noisy_libraries()
    if args.stage is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LLMError as exc:  # the endpoint is down or misnamed: infrastructure, not bad input
        print(f"error: LLM endpoint: {exc}", file=sys.stderr)
        print("what was finished is saved; fix the endpoint and run the same command again to resume.",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: what was finished is saved; run the same command again to resume.", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            raise
        place = exc.filename or getattr(args, "output", None)
        where = f" (writing {place})" if place else ""
        print(f"error: {exc.strerror or exc}{where}. Free some space (or choose another output directory) and run "
              "the same command again: what was finished is saved and resumes.", file=sys.stderr)
        return 1


# the disk is full, over quota or read-only: the machine's state, not a bug (nothing written is lost)
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def _quiet_noisy_libraries() -> None:
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "urllib3", "docker", "filelock", "datasets"):
        logging.getLogger(name).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
