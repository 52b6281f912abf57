"""The settings under their historical name; they live in `punie_acp.settings`."""

from punie_acp.settings import (
    DEFAULT_MODEL,
    Settings,
    SettingsError,
    default_log_path,
    generation_settings,
    load_settings,
    user_config_path,
)

__all__ = [
    "DEFAULT_MODEL",
    "Settings",
    "SettingsError",
    "default_log_path",
    "generation_settings",
    "load_settings",
    "user_config_path",
]
