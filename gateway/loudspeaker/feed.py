"""The podcast feed of an area: RSS 2.0 with iTunes tags, one item (an MP3 enclosure) per announcement."""
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from gateway.models import utcnow

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM = "http://www.w3.org/2005/Atom"


def _sub(parent, tag, text=None, **attrs):
    node = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        node.text = str(text)
    return node


def duration(ms):
    """itunes:duration as HH:MM:SS."""
    seconds = int(round((ms or 0) / 1000))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def build(*, area, commune, items, feed_url, page_url, language="vi", language_name=""):
    """The feed as UTF-8 bytes. `items` is a list of (announcement, asset, mp3_url); `language` is the
    code of the language it is heard in (its items fall back to Vietnamese where none was recorded)."""
    # The prefixes podcast apps expect (ElementTree would write ns0:, ns1:).
    ET.register_namespace("itunes", ITUNES)
    ET.register_namespace("atom", ATOM)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    title = f"Loa Xóm – {area.name}" + (f", {commune.name}" if commune is not area else "")
    title += f" ({language_name})" if language != "vi" and language_name else ""
    _sub(channel, "title", title)
    _sub(channel, "link", page_url)
    _sub(channel, "description", f"Thông báo của {commune.name} cho {area.name}, để phát trên loa truyền thanh.")
    _sub(channel, "language", language)
    _sub(channel, "lastBuildDate", format_datetime(items[0][0].send_at if items else utcnow()))
    _sub(channel, "generator", "Loa Xóm")
    _sub(channel, f"{{{ATOM}}}link", href=feed_url, rel="self", type="application/rss+xml")
    _sub(channel, f"{{{ITUNES}}}author", commune.name)
    _sub(channel, f"{{{ITUNES}}}summary", f"Thông báo cho {area.name}.")
    _sub(channel, f"{{{ITUNES}}}explicit", "false")
    _sub(channel, f"{{{ITUNES}}}type", "episodic")
    ET.SubElement(channel, f"{{{ITUNES}}}category", {"text": "Government"})
    for announcement, asset, url in items:
        item = _sub(channel, "item")
        _sub(item, "title", announcement.title)
        _sub(item, "description", announcement.body or announcement.title)
        _sub(item, "pubDate", format_datetime(announcement.send_at))
        # The hash changes when the audio does, so podcast apps fetch a re-rendered file again.
        _sub(item, "guid", f"loaxom:announcement:{announcement.id}:{asset.content_hash[:16]}", isPermaLink="false")
        _sub(item, "enclosure", url=url, length=asset.mp3_bytes or 0, type="audio/mpeg")
        _sub(item, f"{{{ITUNES}}}duration", duration(asset.duration_ms))
        _sub(item, f"{{{ITUNES}}}explicit", "false")
        _sub(item, f"{{{ITUNES}}}episodeType", "full")
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)
