"""What every outbound channel (SMS, voice, group mirror) raises when it cannot deliver."""


class TransportError(Exception):
    """Delivery failed. `permanent=True`: retrying cannot help (bad number, rejected content);
    otherwise the job raises so RQ retries it. `retry_after` (seconds) when the far side said."""

    def __init__(self, message, *, permanent=False, code=None, retry_after=None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
