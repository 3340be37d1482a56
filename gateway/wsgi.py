"""The web process for gunicorn: `gunicorn "gateway.wsgi:create()"`.

A configuration production refuses is said on one line (no traceback) and gunicorn stops
instead of restarting workers that cannot boot."""
import sys

# gunicorn's exit code for "the application could not be loaded": the arbiter halts.
APP_LOAD_ERROR = 4


def create():
    """`create_app()`, or exit with the refusal on one line."""
    from gateway import create_app
    from gateway.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        print(exc, file=sys.stderr, flush=True)
        sys.exit(APP_LOAD_ERROR)
