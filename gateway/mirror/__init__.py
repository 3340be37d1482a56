"""Group targets: where reports and announcements are mirrored (the neighbourhood's main group)."""
from gateway.registry import Registry

MIRROR_TARGETS = Registry("group target", {
    "outbox": "gateway.mirror.outbox.OutboxTarget",
    "telegram": "gateway.mirror.telegram.TelegramTarget",
    "zalo": "gateway.mirror.zalo.ZaloBotTarget",
    "zalo_oa": "gateway.mirror.zalo.ZaloOATarget",
    "webhook": "gateway.mirror.webhook.WebhookTarget",
})


def get_target(name, config):
    """The group target registered as `name`, ready to post."""
    return MIRROR_TARGETS.get(name)(config)


def group_of(area):
    """(target name, chat id) of the nearest area up the tree that has a group; None if none."""
    for node in area.ancestors():
        if node.group_target and node.group_chat_id:
            return node.group_target, node.group_chat_id
    return None
