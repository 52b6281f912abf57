"""The security boundary: the project root, the one path resolver, race-safe I/O, listing and the file index.

Everything that touches the project's disk goes through this package; it imports nothing else of punie's.
"""

from punie_acp.workspace.root import PathRefused, Workspace

__all__ = ["PathRefused", "Workspace"]
