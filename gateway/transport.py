"""What every outbound channel (SMS, voice, group mirror) raises when it cannot deliver."""


class TransportError(Exception):
    """Delivery failed. `permanent=True`: retrying cannot help (bad number, rejected content);
    otherwise the job raises so RQ retries it. `retry_after` (seconds) when the far side said."""

    def __init__(self, message, *, permanent=False, code=None, retry_after=None):
        # Providers' messages name the number ("The 'To' number +8491… is not valid"); the
        # message is logged by workers and kept on the row, so only a masked number goes on.
        from gateway.phone import mask_text

        super().__init__(mask_text(str(message)))
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
