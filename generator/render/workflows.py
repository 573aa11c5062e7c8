"""GitHub Actions pipelines generated from the catalog (design Phase 5: kubectl/helm out of
the pipelines). One reusable workflow builds a service's image and deploys it through the
environments in catalog order; one small workflow per service calls it.

Computed here, laid out by templates/github/*.yml.j2.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.catalog.model import Catalog
from generator.catalog.naming import EnvironmentNames

WORKFLOWS_DIR = "github/workflows"


@dataclass(frozen=True)
class Stage:
    job: str
    environment: str
    needs: tuple[str, ...]


@dataclass(frozen=True)
class ServiceWorkflow:
    name: str
    repository: str
    build_context: str
    paths_filter: str
    # The first environment that runs the service builds and pushes its image, with that environment's
    # deploy role: one the service is left out of may not be allowed to push it.
    build_environment: str
    build_role_arn: str

    @property
    def file_name(self) -> str:
        return f"deploy-{self.name}.yml"


@dataclass(frozen=True)
class Workflows:
    catalog_path: str
    stages: tuple[Stage, ...]
    role_arns: dict[str, str]
    approval_environments: tuple[str, ...]
    services: tuple[ServiceWorkflow, ...]

    @property
    def approval_environment(self) -> str:
        return ", ".join(self.approval_environments)


def plan_workflows(catalog: Catalog, catalog_path: str) -> Workflows | None:
    """None when the catalog names no GitHub repository. The workflows run in that repository and
    expect the catalog at `catalog_path` there (`catalog/<file name>`)."""
    platform = catalog.platform
    if platform.github_repository is None:
        return None
    environments = [environment.name for environment in catalog.environments]
    stages = []
    previous = "build"
    for name in environments:
        job = f"deploy-{name}"
        # `build` too: every stage deploys the image the build job pushed.
        stages.append(Stage(job=job, environment=name, needs=tuple(dict.fromkeys(("build", previous)))))
        previous = job
    # The deploy roles live in the registry's account (one account per platform).
    role_arns = {
        name: f"arn:aws:iam::{platform.registry_account}:role/{EnvironmentNames(platform.name, name).ci_deploy_role}"
        for name in environments
    }
    approvals = tuple(env.name for env in catalog.environments if env.promote_from is not None) or (environments[-1],)
    return Workflows(
        catalog_path=catalog_path,
        stages=tuple(stages),
        role_arns=role_arns,
        approval_environments=approvals,
        services=tuple(
            ServiceWorkflow(service.name, service.image_repository, f"services/{service.name}",
                            f"services/{service.name}/**", first, role_arns[first])
            for service in catalog.services
            for first in [next((name for name in environments if service.in_environment(name) is not None),
                               environments[0])]
        ),
    )
