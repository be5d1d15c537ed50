"""The one error a harep run stops with."""


class HarepError(Exception):
    """The run stops; the text is the one line harep prints after ``Error: ``."""
