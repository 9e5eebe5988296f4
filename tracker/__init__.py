"""tracker: follows Chinese government sites for follow-up documents of a policy."""

__version__ = "0.1.0"
