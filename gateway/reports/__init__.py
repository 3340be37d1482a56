"""Residents' reports: opening and numbering them (records), their life as cases (casework), the
officials' API, Open311 and the group bots' replies. (A voice report's recording is fetched by the
hotline's own job, gateway.ivr.recordings, which then hands the report to casework.)"""


def init_app(app):
    """Register the report API, Open311 and the group bots' webhooks."""
    from gateway.reports import api, bots, open311

    api.init_app(app)
    open311.init_app(app)
    bots.init_app(app)
