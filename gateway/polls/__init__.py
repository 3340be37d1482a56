"""Polls (issue 21): an official asks a question; households answer with a key on a call or by
SMS; results per area and audience in the console, an export, and a summary in each area's group
at the deadline.

    polls.py    a poll's rules and finding the open ones for a household
    answers.py  recording an answer (one per household, the latest counts), the answer log
    voice.py    what calls say for a poll (the IVR flow's poll steps use it)
    results.py  counts per option, area and audience
    jobs.py     the deadline's summary in the groups

The package sits below the channels, as reports do: gateway.broadcast.polls creates a poll with
the announcement carrying it, gateway.sms.polls reads an SMS as an answer, the IVR flow asks by
keypad, and gateway.console.polls holds the pages and the export.
"""

