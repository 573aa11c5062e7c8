"""Catalogs that validated but failed at `terraform apply` or misbehaved in AWS (issue: hardening,
round two). Each check: a failing catalog with the exact catalog path, and the passing fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import orbit_data, write_yaml
from generator import api
from generator.errors import CatalogError


def problems(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[str]:
    data = orbit_data()
    change(data)
    try:
        api.validate(write_yaml(tmp_path / "orbit.yaml", data))
    except CatalogError as error:
        return [f"{p.path}: {p.message}" for p in error.problems]
    return []


def test_the_fixture_passes(tmp_path: Path) -> None:
    assert problems(tmp_path, lambda data: None) == []


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "worker named alb": (lambda d: d["services"].update(alb={"group": "batch"}), "services.alb", "is reserved"),
    "service named execute-command": (lambda d: d["services"].update({"execute-command": {"group": "batch"}}),
                                      "services.execute-command", "is reserved"),
    "aws: tag key": (lambda d: d["environments"]["live"]["tags"].update({"aws:owner": "x"}),
                     "environments.live.tags.aws:owner", "reserved by AWS"),
    "too many tags": (lambda d: d["environments"]["live"]["tags"].update({f"T{i}": "x" for i in range(50)}),
                      "environments.live.tags", "AWS allows 50"),
    "host over 128 characters": (lambda d: d["environments"]["live"].update(domain=("a" * 60 + ".") * 2 + "example",
                                                                             dns_zone=("a" * 60 + ".") * 2 + "example"),
                                 "services.storefront.routes[0].hosts", "at most 128"),
    "internal- load balancer name": (lambda d: d["platform"].update(name="internal"), "platform.name", "internal-"),
    "environment variable that is a secret": (lambda d: d["environments"]["live"]["environment"].update(DB_PASSWORD="x"),
                                              "environments.live.environment.DB_PASSWORD", "cannot be both"),
    "environment too large for a task definition": (
        lambda d: d["services"]["storefront"]["environment"].update({f"V{i}": "x" * 1000 for i in range(70)}),
        "services.storefront", "ECS accepts 64 KiB"),
    "invalid bucket once {environment} is filled in": (
        lambda d: d["services"]["ledger"].update(s3_read_buckets=["-{environment}..exports"]),
        "services.ledger.s3_read_buckets", "not a valid S3 bucket name"),
    "routed service with min_tasks 0": (lambda d: d["services"]["storefront"].update(resources={"min_tasks": 0}),
                                        "services.storefront.resources", "min_tasks of 1 or more"),
    "on-demand base at max_tasks": (lambda d: d["groups"]["batch"].update(on_demand_base=3),
                                    "groups.batch.on_demand_base", "Spot share would never apply"),
    "certificate that does not cover a host": (
        lambda d: d["environments"]["qa"].pop("certificate_alternative_names"),
        "environments.qa.certificate_domain", "does not cover shop.qa.orbit.example"),
    "wildcard certificate for another level": (
        lambda d: d["environments"]["live"].update(certificate_domain="*.eu.orbit.example"),
        "environments.live.certificate_domain", "does not cover shop.orbit.example"),
    "wildcard certificate one level too high": (
        lambda d: (d["environments"]["qa"].pop("certificate_alternative_names"),
                   d["environments"]["qa"].update(certificate_domain="*.orbit.example")),
        "environments.qa.certificate_domain", "does not cover shop.qa.orbit.example"),
    "more than five wildcards in one rule": (
        lambda d: d["services"]["storefront"]["routes"][0].update(paths=["/a*/b*/c*", "/d*/e*/f?"]),
        "services.storefront.routes[0]", "6 wildcards"),
    "two scratch paths that map to one volume name": (
        lambda d: d["services"]["ledger"].update(scratch_paths=["/var/cache", "/var-cache"]),
        "services.ledger.scratch_paths", "would share the task volume 'scratch-var-cache'"),
    "ARM64 in a group with Spot": (
        lambda d: d["services"]["reindexer"].update(cpu_architecture="ARM64"),
        "services.reindexer.cpu_architecture", "Fargate Spot does not run ARM64"),
    "health-check grace period over ECS's 300 s": (
        lambda d: d["services"]["ledger"].update(health_check={"grace_period_seconds": 301}),
        "services.ledger.health_check.grace_period_seconds", "at most 300"),
    "ephemeral storage below Fargate's 21 GiB": (
        lambda d: d["services"]["ledger"].update(ephemeral_storage_gib=20),
        "services.ledger.ephemeral_storage_gib", "at least 21"),
    "sidecar named like its service": (
        lambda d: d["services"]["ledger"].update(sidecars={"ledger": {"image": "public.ecr.aws/x/y:1.0"}}),
        "services.ledger.sidecars.ledger", "service's own name"),
    "sidecar waiting for a container that does not exist": (
        lambda d: d["services"]["ledger"].update(sidecars={"proxy": {"image": "public.ecr.aws/x/y:1.0",
                                                                     "depends_on": {"ghost": "START"}}}),
        "services.ledger.sidecars.proxy.depends_on.ghost", "no other container named 'ghost'"),
    "sidecar on the service's port": (
        lambda d: d["services"]["ledger"].update(sidecars={"proxy": {"image": "public.ecr.aws/x/y:1.0", "port": 9000}}),
        "services.ledger.sidecars.proxy.port", "port 9000 is already used"),
    "sidecar on a moving tag": (
        lambda d: d["services"]["ledger"].update(sidecars={"proxy": {"image": "public.ecr.aws/x/y:latest"}}),
        "services.ledger.sidecars.proxy.image", "moving tag"),
    "two log routers": (
        lambda d: d["services"]["ledger"].update(sidecars={"a": {"image": "public.ecr.aws/x/y:1.0", "log_router": True},
                                                           "b": {"image": "public.ecr.aws/x/y:1.0", "log_router": True}}),
        "services.ledger.sidecars", "at most one log router"),
    "sidecars that take the whole task": (
        lambda d: d["services"]["ledger"].update(sidecars={"a": {"image": "public.ecr.aws/x/y:1.0", "memory": 1024}}),
        "services.ledger.sidecars", "leave room for the service's container"),
    "moving image tag": (lambda d: d["environments"]["live"].update(image_tag="latest"),
                         "environments.live.image_tag", "moving tag"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rejected_before_apply(case: str, tmp_path: Path) -> None:
    change, path, words = CASES[case]
    found = problems(tmp_path, change)
    assert any(p.startswith(path + ":") and words in p for p in found), found


@pytest.mark.parametrize("name, value, words", [
    ("DB_PASS", "hunter2", "looks like a credential"),
    ("REDIS_URL", "redis://:pw@redis.internal:6379", "a URL with a password"),
    ("SENTRY_DSN", "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/5", "a Sentry DSN"),
    ("PAYMENTS", "sk_live_51HxAbCdEfGhIjKlMn", "a Stripe secret key"),
    ("SIGNING", "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5", "random-looking token"),
])
def test_credentials_are_found_by_value_as_well_as_by_name(name: str, value: str, words: str, tmp_path: Path) -> None:
    found = problems(tmp_path, lambda d: d["services"]["storefront"]["environment"].update({name: value}))
    assert any(p.startswith(f"services.storefront.environment.{name}:") and words in p for p in found), found


def test_a_reviewed_false_positive_is_accepted_and_a_stale_review_is_not(tmp_path: Path) -> None:
    def reviewed(data: dict[str, Any]) -> None:
        data["services"]["storefront"]["environment"]["MAPS_API_KEY_ID"] = "maps-key-7"
        data["services"]["storefront"]["reviewed_plain_variables"] = {"MAPS_API_KEY_ID": "an id, not the key"}
    assert problems(tmp_path, reviewed) == []

    def stale(data: dict[str, Any]) -> None:
        data["services"]["storefront"]["reviewed_plain_variables"] = {"GONE": "was removed"}
    assert any(p.startswith("services.storefront.reviewed_plain_variables.GONE:") for p in problems(tmp_path, stale))


def test_certificate_names_and_wildcard_counts_at_the_limits_pass(tmp_path: Path) -> None:
    def at_limits(data: dict[str, Any]) -> None:
        data["environments"]["qa"]["certificate_alternative_names"] = ["shop.qa.orbit.example", "www.qa.orbit.example",
                                                                        "*.qa.orbit.example"]
        data["services"]["storefront"]["routes"][0]["paths"] = ["/a*/b*/c*", "/d*/e*"]
    assert problems(tmp_path, at_limits) == []


@pytest.mark.parametrize("change, path, words", [
    (lambda d: d["services"]["ledger"].update(writable_root_filesystem="because"), "services.ledger.writable_root_filesystem",
     "at least 10 allowed"),
    (lambda d: d["services"]["ledger"].update(scratch_paths=["/"]), "services.ledger.scratch_paths[0]", "not allowed"),
    (lambda d: d["services"]["ledger"].update(scratch_paths=["tmp"]), "services.ledger.scratch_paths[0]", "not allowed"),
])
def test_root_filesystem_settings_are_checked(change: Callable[[dict[str, Any]], None], path: str, words: str,
                                              tmp_path: Path) -> None:
    found = problems(tmp_path, change)
    assert any(p.startswith(path + ":") and words in p for p in found), found
