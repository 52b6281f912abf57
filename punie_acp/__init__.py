"""punie_acp: a local coding agent served over the Agent Client Protocol."""

__version__ = "0.1.0"
