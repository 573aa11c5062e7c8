"""Turns one validated platform catalog (YAML) into plain Terraform for ECS Fargate."""

from generator.version import VERSION as __version__

__all__ = ["__version__"]
