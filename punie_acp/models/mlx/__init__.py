"""In-process mlx-lm backend. Importing it is cheap: mlx itself loads on the model thread."""

from punie_acp.models.mlx.backend import MlxBackend

__all__ = ["MlxBackend"]
