"""`render` names what the next apply replaces or deletes, before anyone plans.

Every case runs twice: against the previous render's record (`render-record.yaml`), and against a root
rendered before 0.8.0 that has only its HCL (read with python-hcl2, kept until 0.10.0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import orbit_data, write_yaml
from generator.render.record import RECORD_FILE


@pytest.fixture(params=["record", "hcl-before-0.8.0"])
def render_twice(request: pytest.FixtureRequest, cli: Any, tmp_path: Path) -> Any:
    def run(change: Any) -> str:
        return _render_twice(cli, tmp_path, change, keep_record=request.param == "record")
    return run


def _render_twice(cli: Any, tmp_path: Path, change: Any, keep_record: bool = True) -> str:
    data = orbit_data()
    out = tmp_path / "out"
    first = cli("render", "--catalog", write_yaml(tmp_path / "before.yaml", data), "--out", out)
    assert first.exit_code == 0 and "warning" not in first.output, first.output
    records = sorted(out.glob(f"environments/*/{RECORD_FILE}"))
    assert len(records) == len(data["environments"])
    if not keep_record:
        for record in records:
            record.unlink()
    change(data)
    second = cli("render", "--catalog", write_yaml(tmp_path / "after.yaml", data), "--out", out)
    assert second.exit_code == 0, second.output
    return second.output


def test_unchanged_catalog_warns_of_nothing(render_twice: Any) -> None:
    assert "warning" not in render_twice(lambda data: None)


def test_removed_service_is_named_with_its_kept_log_group(render_twice: Any) -> None:
    def remove(data: dict[str, Any]) -> None:
        del data["services"]["reindexer"]
    output = render_twice(remove)
    assert ("warning: environments/live: 'reindexer' is no longer in the catalog" in output
            and "/ecs/orbit-live/reindexer is kept" in output), output
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    assert not [line for line in warnings if "environments/qa" in line], "reindexer still runs on Kubernetes in qa: nothing on ECS to delete"


def test_rename_names_the_replacement(render_twice: Any) -> None:
    def rename(data: dict[str, Any]) -> None:
        services = data["services"]
        data["services"] = {("shopfront" if k == "storefront" else k): v for k, v in services.items()}
        data["services"]["shopfront"]["renamed_from"] = "storefront"
        data["environments"]["qa"]["migration"]["shopfront"] = data["environments"]["qa"]["migration"].pop("storefront")
    output = render_twice(rename)
    assert "'shopfront' is renamed from 'storefront': the apply replaces its ECS service" in output
    assert "no longer in the catalog" not in output


def test_port_change_names_the_gap(render_twice: Any) -> None:
    def move(data: dict[str, Any]) -> None:
        data["services"]["pricing"]["port"] = 8091
    output = render_twice(move)
    assert "environments/live: 'pricing' moves from port 8081 to 8091" in output


def test_dns_record_given_up_is_named(render_twice: Any) -> None:
    def migrate(data: dict[str, Any]) -> None:
        live = data["environments"]["live"]
        live["legacy"] = {"ingress": {"addresses": ["10.0.0.1"]}, "service_url": "https://{service}.k8s.example"}
        live["migration"] = {name: "ecs" for name in data["services"]}
        live["dns"] = {"shop": "alb", "www": "alb"}
    output = render_twice(migrate)
    assert "the DNS record of api.orbit.example (pointing at the CloudFront distribution) is no longer managed" in output
    assert "shop.orbit.example" not in output


def test_service_left_out_of_one_environment_is_named_there_only(render_twice: Any) -> None:
    def leave_out(data: dict[str, Any]) -> None:
        data["services"]["reindexer"]["overrides"] = {"live": {"enabled": False}}
    output = render_twice(leave_out)
    assert "environments/live: 'reindexer' is left out of 'live' (overrides.live.enabled: false)" in output, output
    assert "no longer in the catalog" not in output


def test_protocol_change_names_the_new_target_group_and_its_gap(render_twice: Any) -> None:
    def to_http2(data: dict[str, Any]) -> None:
        data["services"]["pricing"]["protocol"] = "http2"
    output = render_twice(to_http2)
    assert "environments/live: 'pricing' moves from http to http2: a target group's protocol version cannot change" in output


def test_moving_to_the_internal_load_balancer_is_named(render_twice: Any) -> None:
    def internal(data: dict[str, Any]) -> None:
        data["services"]["pricing"]["internal"] = True
        data["services"]["pricing"]["routes"][0]["hosts"] = ["prices"]
    output = render_twice(internal)
    assert ("environments/live: 'pricing' moves to the internal load balancer: its listener rules are deleted on "
            "the internet-facing one") in output, output


def test_removing_legacy_mid_migration_names_what_moves_at_once(render_twice: Any) -> None:
    data = orbit_data()
    split = {name: step["ecs_percent"] for name, step in data["environments"]["qa"]["migration"].items()
             if isinstance(step, dict) and step.get("ecs_percent", 100) < 100}
    assert split, "orbit.yaml's qa has a service on a split"

    def finish(data: dict[str, Any]) -> None:
        for key in ("legacy", "migration", "dns"):
            data["environments"]["qa"].pop(key, None)
    output = render_twice(finish)
    assert "warning: environments/qa: `legacy` is removed: every service takes 100 % of its requests on ECS" in output
    for name, percent in split.items():
        assert f"{name} ({percent} %)" in output, output


def test_a_service_taken_out_of_migration_goes_back_to_kubernetes(render_twice: Any) -> None:
    def back(data: dict[str, Any]) -> None:
        del data["environments"]["qa"]["migration"]["ledger"]
    output = render_twice(back)
    assert "environments/qa: 'ledger' is no longer in `migration`: it goes back to Kubernetes entirely" in output
    assert "'ledger' is no longer in the catalog" not in output


def test_an_unreadable_record_is_said_not_a_traceback(cli: Any, tmp_path: Path) -> None:
    data = orbit_data()
    out = tmp_path / "out"
    assert cli("render", "--catalog", write_yaml(tmp_path / "catalog.yaml", data), "--out", out).exit_code == 0
    record = out / "environments" / "live" / RECORD_FILE
    text = record.read_text()
    record.write_text(text[: len(text) // 2])  # cut short, as a disk filling up would leave it
    second = cli("render", "--catalog", write_yaml(tmp_path / "catalog.yaml", data), "--out", out)
    assert second.exit_code == 0, second.output
    assert ("warning: environments/live: the previous render cannot be read, so this render cannot say what the next "
            "apply replaces or deletes there") in second.output, second.output
    assert "Traceback" not in second.output
