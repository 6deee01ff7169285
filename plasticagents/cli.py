"""The ``plasticagents`` command line. Heavy modules are imported inside each command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _cmd_info(args: argparse.Namespace) -> int:
    import platform

    import torch

    import plasticagents

    print(f"plasticagents {plasticagents.__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}")
    print(f"device 'auto' resolves to: {plasticagents.resolve_device('auto')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plasticagents",
        description="Plastic spiking-neural-network agents: train, watch and stress-test them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print versions and the compute device")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
