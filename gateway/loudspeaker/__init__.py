"""Loudspeaker operators: a private link per operator to one area's audio.

Behind the link: a download page, a JSON list, a podcast RSS feed (for smart IP loudspeakers
and podcast apps), each announcement's MP3 and a daily bulletin, with HTTP Range and ETag.

    create_link(session, area=..., label=...) -> (OperatorLink, token)    the token is shown once
    revoke(session, link)
    request_bulletin(session, area, day) -> Bulletin                      rendered by an RQ job
"""
from gateway.loudspeaker.bulletin import request_bulletin  # noqa: F401  (the package's public names)
from gateway.loudspeaker.links import create_link, revoke  # noqa: F401


def init_app(app):
    from gateway.loudspeaker import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.loudspeaker_cli)
