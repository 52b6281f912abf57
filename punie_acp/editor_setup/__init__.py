"""`punie init`: Punie's entry in editors' agent settings (Zed's JSONC settings.json, JetBrains'
acp.json), merged without disturbing anything else in the file."""
