"""`make bench`: how long `python -m generator render` takes as the catalog grows, and a 300-service catalog
spread over several load balancers and stacks, every root `terraform validate`d (issue #21).

Prints a Markdown table: median of 5 runs (each a fresh process, interpreter start
included, rendering into an empty directory), time per service, peak memory of the
process, and beside it `terraform fmt -recursive` on the same output: the floor of
any tool that touches every byte. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_catalog import catalog, spread_catalog  # noqa: E402

RUNS = 5
SIZES = (100, 1000, 5000)
TARGETS = "nexus <= 0.5 s; 1,000 services <= 5 s; 5,000 / 1,000 <= 6"


def timed(command: list[str], cwd: Path, expect_exit: int = 0) -> tuple[float, int]:
    """Wall seconds and peak resident memory (KiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != expect_exit:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, usage.ru_maxrss


def measure(catalog_path: Path, work: Path) -> dict[str, float]:
    renders, peaks, formats = [], [], []
    for run in range(RUNS):
        out = work / f"out-{run}"
        seconds, peak = timed([sys.executable, "-m", "generator", "render", "--catalog", str(catalog_path), "--out", str(out)], REPO)
        renders.append(seconds)
        peaks.append(peak)
        seconds, _ = timed([shutil.which("terraform") or "terraform", "fmt", "-recursive", "-list=false", str(out)], REPO)
        formats.append(seconds)
        shutil.rmtree(out)
    return {"render": statistics.median(renders), "peak_mib": max(peaks) / 1024, "fmt": statistics.median(formats)}


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        cases = [("catalog/nexus.yaml", REPO / "catalog" / "nexus.yaml", 26)]
        for size in SIZES:
            path = work / f"synthetic-{size}.yaml"
            path.write_text(catalog(size), encoding="utf-8")
            cases.append((f"synthetic {size:,}", path, size))
        for label, path, services in cases:
            result = measure(path, work)
            rows.append((label, services, result))
            print(f"measured {label}", file=sys.stderr, flush=True)
    print(f"render: median of {RUNS} fresh processes, 3 environments each; targets: {TARGETS}\n")
    print("| catalog | services | render (s) | per service (ms) | peak memory (MiB) | terraform fmt (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, services, result in rows:
        print(f"| {label} | {services:,} | {result['render']:.2f} | {1000 * result['render'] / services:.2f} | "
              f"{result['peak_mib']:.0f} | {result['fmt']:.2f} |")
    by_size = {services: result["render"] for _, services, result in rows}
    print(f"\n5,000 / 1,000 render time ratio: {by_size[5000] / by_size[1000]:.1f}")
    print(f"\n`import` of a {IMPORTED_SERVICES}-service manifest set (Deployment, Service, HPA and an Ingress path "
          f"each): {import_seconds(IMPORTED_SERVICES):.2f} s (median of {RUNS}, interpreter start included)")
    print(f"\n6,000 routed services in one group (over what one load balancer holds) rejected by `validate` in "
          f"{rejection_seconds(REJECTED_ROUTED):.2f} s (median of {RUNS}; exit 1, one error per environment)")
    spread_section()


SPREAD_SERVICES = 300


def terraform_config(work: Path) -> dict[str, str]:
    """The provider from TF_PLUGIN_MIRROR (as `make test` does), one plugin cache for every root."""
    cache = work / "plugin-cache"
    cache.mkdir()
    lines = [f'plugin_cache_dir = "{cache}"']
    mirror = os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins")
    if mirror:
        lines.append(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}')
    config = work / "terraformrc"
    config.write_text("\n".join(lines) + "\n")
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def spread_section() -> None:
    """Issue #21: a 300-service catalog whose routes need several load balancers, rendered as stacks; every root
    passes `terraform validate`."""
    from generator import api
    from generator.render.roots import root_directories

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        path = work / "wide.yaml"
        path.write_text(spread_catalog(SPREAD_SERVICES), encoding="utf-8")
        validate = statistics.median(timed([sys.executable, "-m", "generator", "validate", "--catalog", str(path)], REPO)[0]
                                     for _ in range(RUNS))
        out = work / "out"
        render, _ = timed([sys.executable, "-m", "generator", "render", "--catalog", str(path), "--out", str(out)], REPO)
        catalog_model = api.validate(path)
        deployment = catalog_model.deployment(catalog_model.environments[0])
        roots = root_directories(out)
        environment = terraform_config(work)
        terraform = shutil.which("terraform") or "terraform"
        started, failed = time.perf_counter(), []
        for root in roots:
            for args in (["init", "-backend=false", "-input=false", "-no-color"], ["validate", "-no-color"]):
                result = subprocess.run([terraform, *args], cwd=out / root, env=environment, capture_output=True, text=True)
                if result.returncode != 0:
                    failed.append(f"{root}: terraform {args[0]}: {result.stderr.strip()[-300:]}")
                    break
        validated = time.perf_counter() - started
    print(f"\n{SPREAD_SERVICES} routed services in teams of 10 (tests/bench/synthetic_catalog.py `spread_catalog`), "
          f"one environment as stacks with CloudFront: validate {validate:.2f} s (median of {RUNS}), render {render:.2f} s, "
          f"{len(roots)} roots; `terraform init` + `validate` of every root {validated:.0f} s: "
          f"{len(roots) - len(failed)} of {len(roots)} valid\n")
    for line in failed:
        print(f"    FAILED {line}")
    quotas = catalog_model.platform.load_balancer_quotas
    print(f"| load balancer | groups | routed services (security-group rules, of {quotas.security_group_rules}) | "
          f"target groups (of {quotas.target_groups}) | listener rules (of {quotas.listener_rules}) |")
    print("|---|---:|---:|---:|---:|")
    for balancer in deployment.load_balancers:
        print(f"| {balancer.names.alb} | {len(balancer.groups)} | {len(balancer.services)} | {balancer.target_groups} | "
              f"{balancer.listener_rules} |")
    if failed:
        raise SystemExit(1)


REJECTED_ROUTED = 6000
IMPORTED_SERVICES = 50


def manifests(count: int) -> str:
    """A Helm-like manifest set of `count` services (the shape of tests/fixtures/k8s/nexus-helm)."""
    documents, paths = [], []
    for index in range(count):
        name = f"svc-{index:03d}"
        documents.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: {name}
          image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/bench/{name}:v1
          ports: [{{name: http, containerPort: {8000 + index}}}]
          env: [{{name: NEXT_URL, value: "http://svc-{(index + 1) % count:03d}:80"}}, {{name: MODE, value: fast}}]
          readinessProbe: {{httpGet: {{path: /health, port: http}}, initialDelaySeconds: 15}}
          resources: {{requests: {{cpu: 250m, memory: 512Mi}}, limits: {{memory: 1Gi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: 80, targetPort: http}}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {name}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 8
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}}}]
""")
        paths.append(f"          - {{path: /api/{name}, pathType: Prefix, backend: {{service: {{name: {name}, port: {{name: http}}}}}}}}")
    documents.append("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bench}\nspec:\n  rules:\n"
                     "    - host: api.bench.example.com\n      http:\n        paths:\n" + "\n".join(paths) + "\n")
    return "---\n".join(documents)


def import_seconds(count: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        source = Path(tmp) / "manifests.yaml"
        source.write_text(manifests(count), encoding="utf-8")
        command = [sys.executable, "-m", "generator", "import", "--platform", "bench", "--out", str(Path(tmp) / "c.yaml"),
                   str(source)]
        return statistics.median(timed(command, REPO)[0] for _ in range(RUNS))


def rejection_seconds(count: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        path = Path(tmp) / "routed.yaml"
        path.write_text(catalog(count, routed=count), encoding="utf-8")
        command = [sys.executable, "-m", "generator", "validate", "--catalog", str(path)]
        return statistics.median(timed(command, REPO, expect_exit=1)[0] for _ in range(RUNS))


if __name__ == "__main__":
    main()
