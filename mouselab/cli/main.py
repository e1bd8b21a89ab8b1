"""Entry point of the ``mouselab`` command.

Every subcommand lives in its own module and only parses arguments, calls the library and prints.
Errors the user can fix (bad input, missing files) are printed as one line on stderr with exit code 2,
never as a traceback; set ``MOUSELAB_DEBUG=1`` to see the traceback.
"""

from __future__ import annotations

import os
import sys

import click

from mouselab import __version__
from mouselab.cli import capture, ingest, measures, privacy, report, segment, store, study, synth

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, PermissionError, RuntimeError, OSError)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mouselab")
def cli() -> None:
    """mouselab: analyse computer-mouse movement from a Parquet trajectory store.

    \b
    Typical session:
      mouselab ingest mousetrap trajectories.csv.gz --store my_store
      mouselab store info my_store
      mouselab measures --store my_store --preset mousetrap --out measures.csv
      mouselab study run notebooks --store my_store --out reports/my_study
    """


for module in (capture, ingest, measures, privacy, report, segment, store, study, synth):
    cli.add_command(module.command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="mouselab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except USER_ERRORS as exc:
        if os.environ.get("MOUSELAB_DEBUG"):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        click.echo(f"mouselab: error: {message}", err=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
