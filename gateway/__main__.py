"""`python -m gateway <command>`: the Flask command line of the gateway."""
from flask.cli import FlaskGroup

from gateway import create_app

cli = FlaskGroup(create_app=create_app, help="The SMS and voice gateway.")

if __name__ == "__main__":
    cli(prog_name="python -m gateway")
