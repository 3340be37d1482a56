"""The hotline and voice calls."""
