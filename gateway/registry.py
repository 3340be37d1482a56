"""Explicit registries: a name chosen in configuration → the dotted path of its class.

Classes are imported on first use, so the web process never imports what it does not run.
"""
from importlib import import_module


def import_string(dotted):
    """The object named by `package.module.Name`."""
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


class Registry:
    """Names → dotted paths for one kind of pluggable part (SMS providers, mirror targets…)."""

    def __init__(self, kind, entries):
        self.kind = kind
        self.entries = dict(entries)

    def names(self):
        return sorted(self.entries)

    def get(self, name):
        """The class registered as `name`; ValueError listing the known names otherwise."""
        try:
            dotted = self.entries[name]
        except KeyError:
            raise ValueError(
                f"Unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}."
            ) from None
        return import_string(dotted)
