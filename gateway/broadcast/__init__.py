"""Broadcasts: an official's announcement delivered on every channel, with coverage measured."""
