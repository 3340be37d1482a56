"""The group target interface: posting, and reading the platform's webhook of group messages
(so an official's answer in the group can be relayed; gateway.reports.bots routes and relays)."""
from dataclasses import dataclass

from gateway.transport import TransportError


@dataclass(frozen=True)
class GroupReply:
    """A message written in a group, as the platform's webhook carried it."""

    chat_id: str
    message_id: str
    text: str
    sender: str = ""  # the writer's user id on the platform (an OfficialAccount's user_id)
    official_login: str = ""  # a tool that names the official itself (the plain webhook)
    reply_to: str = ""  # the message id it answers, where the platform says


class MirrorTarget:
    """Posts a text into a group chat. Subclasses set `name`, `required_settings`, `post`."""

    name = ""
    required_settings = ()
    max_length = 4000
    # Whether a post sent again with the same id is refused by the platform (so a post whose
    # outcome is unknown may be sent again), and whether we can ask if a post went out.
    dedupes = False
    can_lookup = False

    @classmethod
    def reply_ok(cls, request, config):
        """True when the reply webhook `request` is signed by (or carries the secret of) the platform."""
        return False

    @classmethod
    def parse_reply(cls, request):
        """The `GroupReply` in the webhook `request`, None when it is an event that carries none
        (a 400 for a body that cannot be read)."""
        raise NotImplementedError

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
