"""Residents' reports: opening and numbering them (records), their life as cases (casework), voice
reports' recordings, the officials' API, Open311 and the group bots' replies."""


def init_app(app):
    """Register the report API, Open311 and the group bots' webhooks."""
    from gateway.reports import api, bots, open311

    api.init_app(app)
    open311.init_app(app)
    bots.init_app(app)
