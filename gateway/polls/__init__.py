"""Polls (issue 21): an official asks a question; households answer with a key on a call or by
SMS; results per area and audience in the console, an export, and a summary in each area's group
at the deadline.

    polls.py    creating a poll (carried by an announcement) and finding the open ones
    answers.py  answers by SMS and keypad, receipts, the answer log
    voice.py    what calls say for a poll (the IVR flow's poll steps use it)
    results.py  counts per option, area and audience; the export
    jobs.py     the deadline's summary in the groups
    views.py    the console pages
"""

