"""Announcement policy below the channels: quiet hours, what is current for an area, what an
official may see, and the per-area caches the webhooks answer from. sms, ivr, console, the API
and broadcast all read it; it imports none of them."""
