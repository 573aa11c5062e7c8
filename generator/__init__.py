"""Turns one validated platform catalog (YAML) into plain Terraform for ECS Fargate."""
