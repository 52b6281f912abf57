"""punie's settings: one object, layered from flags, env, the project, the user file and defaults."""

from punie_acp.settings.generation import generation_settings
from punie_acp.settings.layers import load_settings, with_project
from punie_acp.settings.schema import (
    DEFAULT_MODEL,
    MODE_ORDER,
    PROJECT_KEYS,
    SPECS,
    Settings,
    Spec,
    default_log_path,
    user_config_path,
)
from punie_acp.settings.sources import SettingsError, read_project_table

__all__ = [
    "DEFAULT_MODEL",
    "MODE_ORDER",
    "PROJECT_KEYS",
    "SPECS",
    "Settings",
    "SettingsError",
    "Spec",
    "default_log_path",
    "generation_settings",
    "load_settings",
    "read_project_table",
    "user_config_path",
    "with_project",
]
