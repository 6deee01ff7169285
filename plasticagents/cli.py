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


def _cmd_list_envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from plasticagents.envs import NAMESPACE

    for env_id in sorted(i for i in gym.registry if i.startswith(f"{NAMESPACE}/")):
        kwargs = gym.registry[env_id].kwargs
        detail = kwargs.get("perturbations", {k: v for k, v in kwargs.items()})
        print(f"{env_id:55s} {kwargs.get('base_id', '')} {detail if args.verbose else ''}".rstrip())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plasticagents",
        description="Plastic spiking-neural-network agents: train, watch and stress-test them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print versions and the compute device")
    info.set_defaults(func=_cmd_info)
    envs = sub.add_parser("list-envs", help="print the registered plasticagents Gymnasium ids")
    envs.add_argument(
        "-v", "--verbose", action="store_true", help="also print each perturbation list"
    )
    envs.set_defaults(func=_cmd_list_envs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `plasticagents list-envs | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
