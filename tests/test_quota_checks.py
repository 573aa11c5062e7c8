"""What validates must apply: one case per class of catalog that AWS refuses at apply (issue #17), each
with the catalog path of its message and a neighbouring catalog at the limit that passes.

The limits below are AWS's documented values, written here, not read from the generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import hcl2
import pytest

from conftest import orbit_data, write_yaml
from generator import api
from generator.errors import CatalogError

Mutation = Callable[[dict[str, Any]], Any]


def svc(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["services"][name]


def task(data: dict[str, Any]) -> dict[str, Any]:
    return data["scheduled_tasks"]["nightly-report"]


def rename_task(data: dict[str, Any], name: str) -> None:
    data["scheduled_tasks"][name] = data["scheduled_tasks"].pop("nightly-report")


def rename_env(data: dict[str, Any], old: str, new: str) -> None:
    data["environments"][new] = data["environments"].pop(old)
    for entry in (*data["services"].values(), *data.get("scheduled_tasks", {}).values()):
        if old in entry.get("overrides", {}):
            entry["overrides"][new] = entry["overrides"].pop(old)


def sidecar(data: dict[str, Any], name: str) -> dict[str, Any]:
    return svc(data, "storefront")["sidecars"][name]


def callers(count: int) -> Mutation:
    """`count` extra services that each call pricing (one inbound rule each on pricing's group)."""
    def mutate(data: dict[str, Any]) -> None:
        for index in range(count):
            data["services"][f"caller-{index:02d}"] = {"group": "batch", "calls": ["pricing"]}
    return mutate


def data_store_clients(count: int) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for index in range(count):
            data["services"][f"client-{index:02d}"] = {"group": "batch", "data_stores": ["mysql"]}
    return mutate


def routed(count: int) -> Mutation:
    """`count` routed services in all (ALB egress: one rule per routed service, IAM roles etc. stay valid)."""
    def mutate(data: dict[str, Any]) -> None:
        already = sum(1 for service in data["services"].values() if service.get("routes") and not service.get("internal"))
        for index in range(count - already):
            data["services"][f"web-{index:02d}"] = {"group": "batch", "port": 8000,
                                                    "routes": [{"priority": 100 + index, "hosts": ["api"], "paths": [f"/w{index}/*"]}]}
    return mutate


def env_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["environments"][name]


def efs_volume(directory: str) -> Mutation:
    return lambda d: svc(d, "search")["efs_volumes"]["index"].update(directory=directory)


# (name, breaks, catalog path of the message, fragment, a neighbour at the limit that passes)
CASES: list[tuple[str, Mutation, str, str, Mutation]] = [
    ("target groups with the same final name",
     lambda d: (svc(d, "ledger").update(short_name="pricing-grpc", routes=[{"priority": 40, "hosts": ["ledger"]}]),
                svc(d, "pricing").update(protocol="grpc", health_check={"command": ["/bin/true"]})),
     "services.ledger.short_name", "target group name 'orbit-live-pricing-grpc' is also",
     lambda d: (svc(d, "ledger").update(short_name="pricing-gr", routes=[{"priority": 40, "hosts": ["ledger"]}]),
                svc(d, "pricing").update(protocol="grpc", health_check={"command": ["/bin/true"]}))),
    # orbit-<11-character environment>-<task>-schedule: 5 + 1 + 11 + 1 + 38 + 9 = 65
    ("scheduled task role name over 64 characters",
     lambda d: (rename_env(d, "live", "l" * 11), rename_task(d, "r" * 38)), "scheduled_tasks." + "r" * 38,
     "has 65 characters; AWS allows 64", lambda d: (rename_env(d, "live", "l" * 11), rename_task(d, "r" * 37))),
    ("scheduled task with a reserved name",
     lambda d: rename_task(d, "execute-command"), "scheduled_tasks.execute-command", "is reserved",
     lambda d: rename_task(d, "execute-commands")),
    ("5-field Kubernetes cron", lambda d: task(d).update(schedule="cron(0 3 * * *)"),
     "scheduled_tasks.nightly-report.schedule", "EventBridge Scheduler wants 6",
     lambda d: task(d).update(schedule="cron(0 3 * * ? *)")),
    ("rate(1 minutes)", lambda d: task(d).update(schedule="rate(1 minutes)"),
     "scheduled_tasks.nightly-report.schedule", "rate(1 minute)", lambda d: task(d).update(schedule="rate(1 minute)")),
    ("both day fields set", lambda d: task(d).update(schedule="cron(0 3 1 * MON *)"),
     "scheduled_tasks.nightly-report.schedule", "exactly one of day-of-month",
     lambda d: task(d).update(schedule="cron(0 3 ? * MON *)")),
    ("both day fields set in an override", lambda d: task(d)["overrides"]["qa"].update(schedule="cron(0 3 * * * *)"),
     "scheduled_tasks.nightly-report.overrides.qa.schedule", "exactly one of day-of-month",
     lambda d: task(d)["overrides"]["qa"].update(schedule="cron(0 3 * * ? *)")),
    ("misspelled time zone", lambda d: task(d).update(timezone="Europe/Berln"),
     "scheduled_tasks.nightly-report.timezone", "not an IANA time zone", lambda d: task(d).update(timezone="Europe/Berlin")),
    ("impossible at() date", lambda d: task(d).update(schedule="at(2027-02-29T03:00:00)"),
     "scheduled_tasks.nightly-report.schedule", "not a real date", lambda d: task(d).update(schedule="at(2028-02-29T03:00:00)")),
    ("SUCCESS on an essential sidecar", lambda d: sidecar(d, "migrate").update(essential=True),
     "services.storefront.sidecars.migrate.run_before_service", "it is essential",
     lambda d: sidecar(d, "migrate").update(essential=False)),
    ("COMPLETE on the service's own container", lambda d: sidecar(d, "log-router").update(depends_on={"storefront": "COMPLETE"}),
     "services.storefront.sidecars.log-router.depends_on.storefront", "it is essential",
     lambda d: sidecar(d, "log-router").update(depends_on={"migrate": "COMPLETE"})),
    ("HEALTHY on a container without a health check", lambda d: sidecar(d, "migrate").update(run_before_service="HEALTHY"),
     "services.storefront.sidecars.migrate.run_before_service", "has none",
     lambda d: sidecar(d, "migrate").update(run_before_service="START")),
    # pricing: its load balancer + storefront + reindexer + 58 = 61
    ("61 inbound rules on a much-called service", callers(58), "services.pricing", "would have 61 rules",
     callers(57)),
    ("61 outbound rules on the load balancer's group", routed(61), "services", "would have 61 outbound rules", routed(60)),
    # mysql's group in live: pricing, ledger, the nightly-report task + 58 = 61
    ("61 inbound rules added to a looked-up data-store group", data_store_clients(58),
     "environments.live.data_stores.mysql", "would have 61 rules", data_store_clients(57)),
    ("access point directory over 100 characters", efs_volume("/" + "d" * 100), "services.search.efs_volumes.index",
     "has 101 characters", efs_volume("/" + "d" * 99)),
    ("access point directory 5 levels deep", efs_volume("/a/b/c/d/e"), "services.search.efs_volumes.index",
     "5 levels deep", efs_volume("/a/b/c/d")),
    ("access point directory with ..", efs_volume("/a/../b"), "services.search.efs_volumes.index", "`..` level",
     efs_volume("/a/b")),
    ("access point directory with //", efs_volume("/a//b"), "services.search.efs_volumes.index", "empty level",
     efs_volume("/a/b")),
    ("access point directory with a trailing /", efs_volume("/a/b/"), "services.search.efs_volumes.index",
     "ends with `/`", efs_volume("/a/b")),
    ("SSM parameter name with an empty level",
     lambda d: svc(d, "search")["secrets"].update(INDEX_API_TOKEN={"ssm": "search//token"}),
     "services.search.secrets.INDEX_API_TOKEN", "empty level",
     lambda d: svc(d, "search")["secrets"].update(INDEX_API_TOKEN={"ssm": "search/token"})),
    ("SSM parameter name over 15 levels",  # prefix /orbit-live/ is 1 level
     lambda d: svc(d, "search")["secrets"].update(INDEX_API_TOKEN={"ssm": "/".join("l" * 15)}),
     "services.search.secrets.INDEX_API_TOKEN", "16 levels",
     lambda d: svc(d, "search")["secrets"].update(INDEX_API_TOKEN={"ssm": "/".join("l" * 14)})),
    ("task definition over 64 KiB without large environment",
     lambda d: [sidecar(d, "migrate").update(command=["x" * 1000] * 50), svc(d, "storefront")["sidecars"].update(
         {f"helper-{i}": {"image": "public.ecr.aws/x/helper:1.0", "command": ["y" * 1000] * 50} for i in range(1)}),
         svc(d, "storefront").update(command=["z" * 1000] * 15)],
     "services.storefront", "ECS accepts 64 KiB",
     lambda d: [sidecar(d, "migrate").update(command=["x" * 1000] * 50), svc(d, "storefront").update(command=["z" * 1000] * 5)]),
    ("autoscaling target below what Application Auto Scaling accepts",
     lambda d: svc(d, "pricing")["autoscaling"].update(cpu_target=1e-200),
     "services.pricing.autoscaling.cpu_target", "below what Application Auto Scaling accepts",
     lambda d: svc(d, "pricing")["autoscaling"].update(cpu_target=1e-100)),
    ("plain credential in a sidecar's environment",
     lambda d: sidecar(d, "migrate").update(environment={"DB_PASSWORD": "hunter2hunter2"}),
     "services.storefront.sidecars.migrate.environment.DB_PASSWORD", "looks like a credential",
     lambda d: sidecar(d, "migrate").update(environment={"DB_HOST": "mysql.internal"})),
    ("plain credential in a scheduled task's environment",
     lambda d: task(d).update(environment={"SMTP_TOKEN": "abc"}),
     "scheduled_tasks.nightly-report.environment.SMTP_TOKEN", "looks like a credential",
     lambda d: task(d).update(environment={"SMTP_HOST": "mail.internal"})),
    ("plain credential in a scheduled task's override",
     lambda d: task(d)["overrides"]["qa"]["environment"].update(API_KEY="x"),
     "scheduled_tasks.nightly-report.overrides.qa.environment.API_KEY", "looks like a credential",
     lambda d: task(d)["overrides"]["qa"]["environment"].update(API_HOST="x")),
    ("a renamed service's EFS volume would move to an empty directory",
     lambda d: svc(d, "search").update(renamed_from="finder"), "services.search.efs_volumes.index",
     "directory: /finder/index",
     lambda d: (svc(d, "search").update(renamed_from="finder"), efs_volume("/finder/index")(d))),
]


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = write_yaml(tmp_path / "catalog.yaml", data)
    try:
        api.validate(path)
    except CatalogError as error:
        return [problem.render() for problem in error.problems]
    return []


@pytest.mark.parametrize("name, breaks, path, fragment, fine", CASES, ids=[case[0] for case in CASES])
def test_refused_at_its_line_and_the_neighbour_passes(tmp_path: Path, name: str, breaks: Mutation, path: str,
                                                      fragment: str, fine: Mutation) -> None:
    data = orbit_data()
    breaks(data)
    (tmp_path / "broken").mkdir()
    problems = problems_of(tmp_path / "broken", data)
    matching = [p for p in problems if f": {path}: " in p and fragment in p]
    assert matching, f"expected {path}: ...{fragment}... in:\n" + "\n".join(problems)
    assert len(matching) == 1, "one message per problem, even when several environments see it:\n" + "\n".join(matching)
    assert problems[0].split(":")[1].isdigit(), f"no line number: {problems[0]}"
    data = orbit_data()
    fine(data)
    (tmp_path / "fine").mkdir()
    assert problems_of(tmp_path / "fine", data) == []


def test_one_rule_per_security_group_and_port_when_stores_or_file_systems_share_a_group(tmp_path: Path) -> None:
    """Two data stores behind one group on one port, two file systems behind one group: AWS refuses the
    second identical rule (InvalidPermission.Duplicate), so each (group, port) is rendered once."""
    from hcl_reading import literal

    data = orbit_data()
    data["data_stores"]["mysql-replica"] = {"port": 3306}
    live = data["environments"]["live"]
    live["data_stores"]["mysql-replica"] = dict(live["data_stores"]["mysql"])  # the same group
    data["environments"]["qa"]["data_stores"]["mysql-replica"] = dict(data["environments"]["qa"]["data_stores"]["mysql"])
    live["file_systems"]["search-archive"] = {"tags": {"Name": "orbit-live-search-archive"},
                                              "security_group": dict(live["file_systems"]["search-index"]["security_group"])}
    svc(data, "pricing")["data_stores"] = ["mysql", "mysql-replica"]
    svc(data, "search")["efs_volumes"]["archive"] = {"file_system": "search-archive", "path": "/var/lib/archive"}
    catalog = write_yaml(tmp_path / "catalog.yaml", data)
    api.render(catalog, tmp_path / "out")
    root = literal(hcl2.loads((tmp_path / "out" / "environments" / "live" / "main.tf").read_text()))
    groups = next(module["security_groups"] for module in root["module"] if "security_groups" in module)
    services = groups["services"]
    # From the catalog: mysql and mysql-replica share lookup and port; both file systems share a group.
    assert len(services["pricing"]["data_stores"]) == 1
    assert len(services["search"]["file_systems"]) == 1
    # Both file systems are still mounted (one access point each), only the NFS rule is shared.
    assert (tmp_path / "out" / "environments" / "live" / "services.tf").read_text().count("search-archive") >= 1
