"""`python -m gateway <command>`: the Flask command line of the gateway."""
import sys

import click
from flask.cli import FlaskGroup

from gateway import create_app
from gateway.config import ConfigError


def _create_app():
    """The app; a configuration production refuses is said on one line, without a traceback."""
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


cli = FlaskGroup(create_app=_create_app, help="The SMS and voice gateway.")

if __name__ == "__main__":
    cli(prog_name="python -m gateway")
