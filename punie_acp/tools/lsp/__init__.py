"""Code intelligence through a real language server (pygls client, lsprotocol types; `ty server` by default)."""
