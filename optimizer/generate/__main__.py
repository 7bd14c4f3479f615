"""`python -m optimizer.generate ...` is `enroll-opt generate ...`.

An entry point of the command line, like `optimizer/cli.py` itself: the generator (`__init__.py`)
stays below the CLI and never imports it.
"""

from __future__ import annotations

from optimizer.cli import generate_command


def main(argv: list[str] | None = None) -> None:
    generate_command.main(args=argv, prog_name="python -m optimizer.generate")


if __name__ == "__main__":
    main()
