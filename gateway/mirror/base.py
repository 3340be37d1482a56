"""The group target interface."""
from gateway.transport import TransportError


class MirrorTarget:
    """Posts a text into a group chat. Subclasses set `name`, `required_settings`, `post`."""

    name = ""
    required_settings = ()
    max_length = 4000
    # Whether a post sent again with the same id is refused by the platform (so a post whose
    # outcome is unknown may be sent again), and whether we can ask if a post went out.
    dedupes = False
    can_lookup = False

    def __init__(self, config):
        missing = [k for k in self.required_settings if not config.get(k)]
        if missing:
            raise TransportError(f"group target '{self.name}' needs {', '.join(missing)}", permanent=True,
                                 code="not_configured")
        self.config = config

    def post(self, chat_id, text, *, reply_to=None, data=None):
        """Post `text` to `chat_id` (as a reply to message `reply_to` where the platform can);
        return the platform's message id. `data` is the structured event, for webhooks.

        Raises TransportError (permanent or not, with retry_after when the platform says)."""
        raise NotImplementedError

    def lookup(self, post):
        """The platform's message id of GroupPost `post` if it went out, else None (`can_lookup` targets)."""
        raise NotImplementedError

    def fit(self, text):
        """`text` cut to the platform's limit."""
        return text if len(text) <= self.max_length else text[: self.max_length - 1] + "…"


class ChatMigrated(TransportError):
    """The group moved to a new chat id (a Telegram group that became a supergroup)."""

    def __init__(self, message, new_chat_id):
        super().__init__(message, permanent=True, code="chat_migrated")
        self.new_chat_id = str(new_chat_id)
