"""Model -> HCL text: one template per output file, values only through `hcl`.

Python decides which files exist and what each template sees; templates only
lay out. `require_hcl` refuses to print any value that did not pass through the
`hcl` (escaped literal), `ident` (checked identifier) or `comment` filters, so
a catalog string cannot reach the output any other way.
"""

from __future__ import annotations


import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

import jinja2
import jinja2.bccache

from generator.render import docs, hcl, record as render_record, yaml_text
from generator.render.hcl_format import align_assignments
from generator.render.roots import Root, roots
from generator.catalog.model import Catalog, Environment
from generator.catalog.naming import SharedNames
from generator.paths import TEMPLATES_DIR
from generator.version import GENERATED_MARKER, RENDER_RECORD, VERSION
from generator.render.workflows import WORKFLOWS_DIR, plan_workflows

MODULES = ("alb", "ecs-cluster", "ecs-service", "edge", "iam", "scheduled-task", "security-groups", "waf-web-acl")
# Modules that need more than the one default provider have their own versions.tf.
MODULES_WITH_OWN_VERSIONS = ("edge",)
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf")
SHARED_FILES = ("versions.tf", "main.tf", "outputs.tf")


class TemplateValueError(TypeError):
    """A template printed a value without an escaping filter: a bug in a template."""


def require_hcl(value: Any) -> Any:
    if isinstance(value, hcl.HclText):
        return value
    raise TemplateValueError(
        f"template printed {value!r} without the `hcl`, `ident` or `comment` filter; "
        "every value must be escaped on its way into HCL"
    )


def comment(text: Any) -> hcl.HclText:
    """Text inside a `#` comment: one line, with anything unusual shown escaped."""
    escaped = hcl.quote(str(text))[1:-1]
    return hcl.HclText(escaped)


class _BestEffortBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (compiling them is half of a render). Jinja keys each entry
    by the template's name and a checksum of its source, so an edited template is compiled again. A cache
    that cannot be read or written is skipped, never an error."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """`$XDG_CACHE_HOME/ecs-platform-generator` (or ~/.cache/...); `GENERATOR_TEMPLATE_CACHE=off` disables it."""
    if os.environ.get("GENERATOR_TEMPLATE_CACHE", "").lower() == "off":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "ecs-platform-generator", "templates")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return _BestEffortBytecodeCache(directory)


def _jinja(finalize: Any, filters: dict[str, Any], globals_: dict[str, Any] | None = None) -> jinja2.Environment:
    """A Jinja environment whose every printed value must come out of one of `filters`."""
    environment = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=finalize,
        auto_reload=False,
    )
    environment.filters.update(filters)
    environment.globals.update(globals_ or {})
    return environment


@lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """The Jinja environment of the Terraform files, built once: compiled templates are reused."""
    return _jinja(require_hcl, {"hcl": hcl.value, "ident": hcl.ident, "comment": comment})


def require_yaml(value: Any) -> Any:
    if isinstance(value, yaml_text.YamlText):
        return value
    raise TemplateValueError(
        f"template printed {value!r} without the `yaml`, `yaml_key` or `yaml_comment` filter; "
        "every value must be quoted on its way into YAML"
    )


@lru_cache(maxsize=1)
def yaml_template_environment() -> jinja2.Environment:
    """The Jinja environment of the YAML outputs (workflows): values only through yaml_text."""
    return _jinja(require_yaml, {"yaml": yaml_text.value, "yaml_key": yaml_text.key, "yaml_comment": yaml_text.comment},
                  {"expression": yaml_text.expression})


def require_doc(value: Any) -> Any:
    if isinstance(value, docs.DocText):
        return value
    raise TemplateValueError(f"template printed {value!r} without a Markdown/Mermaid filter (cell, code, text, "
                             "mermaid_id, mermaid_label)")


@lru_cache(maxsize=1)
def doc_template_environment() -> jinja2.Environment:
    """The Jinja environment of the READMEs: values only through generator/render/docs.py's escapers."""
    return _jinja(require_doc, {name: getattr(docs, name) for name in ("cell", "code", "prose", "text", "mermaid_id", "mermaid_label")})


MODULE_PURPOSES = {
    "alb": "The shared internet-facing Application Load Balancer (design 3.1): HTTPS listener, HTTP redirect, WAF, "
           "access logs, DNS records, the load balancer's 5xx alarm and, while migrating, the Kubernetes ingress.",
    "ecs-cluster": "The ECS cluster with Container Insights and execute-command logging (design 2.1), capacity "
                   "providers, the Service Connect namespace, the KMS key and the alert and paging topics.",
    "ecs-service": "One service (design 4, 5, 6, 9): task definition, ECS service with circuit breaker and "
                   "deployment alarms, target group and listener rules, autoscaling, log group and alarms.",
    "edge": "CloudFront in front of the load balancer (design 1.1): TLS to the origin, the secret origin header, "
            "and a CLOUDFRONT-scope WAF web ACL with its logs in us-east-1.",
    "iam": "Execution and task roles per service (design 7.2) and the CI/CD deploy role (OIDC or IAM principals).",
    "scheduled-task": "A task EventBridge Scheduler runs on a cron or rate expression (a Kubernetes CronJob): task "
                      "definition, its execution, task and scheduler roles, security group, log group and schedule.",
    "waf-web-acl": "A WAF web ACL (design 1.1) with the platform's rules (the AWS common and known-bad-inputs rule "
                   "groups; behind CloudFront, the origin header and the cluster's IP set) and its logs; used by `alb` "
                   "(REGIONAL) and `edge` (CLOUDFRONT).",
    "security-groups": "Security groups (design 7.1): ALB, one per service, and the rules to the existing data stores.",
}


def header(*lines: str) -> hcl.HclText:
    return hcl.HclText("\n".join([GENERATED_MARKER, *(f"# {comment(line)}" for line in lines)]))


def render_template(template_name: str, **context: Any) -> str:
    """One file's text, already in `terraform fmt` layout."""
    return align_assignments(template_environment().get_template(template_name).render(**context))


def render_modules() -> dict[PurePosixPath, str]:
    """The Terraform files of every module: they do not depend on the catalog."""
    files: dict[PurePosixPath, str] = {}
    for module in MODULES:
        for file_name in (*MODULE_FILES, "versions.tf"):
            own = file_name in MODULE_FILES or module in MODULES_WITH_OWN_VERSIONS
            template = f"modules/{module}/{file_name}.j2" if own else "modules/versions.tf.j2"
            files[PurePosixPath("modules", module, file_name)] = render_template(
                template, header=header(f"Source: templates/{template}. Change the template and run `make render`.")
            )
    return files


def render_environment(catalog: Catalog, environment: Environment, source_name: str) -> dict[PurePosixPath, str]:
    """The files of one environment: its root, or its stacks' roots, with the README and render record beside them."""
    deployment = catalog.deployment(environment)
    base = PurePosixPath("environments", environment.name)
    files = {
        base / render_record.RECORD_FILE: render_record.record_text(deployment),
        base / "README.md": doc_template_environment().get_template("docs/environment-README.md.j2").render(
            doc=docs.environment_doc(deployment)),
    }
    for root in roots(deployment):
        for file_name in root.files:
            template = _root_template(root, file_name)
            what = f"environment {environment.name!r}" if root.stack is None else \
                f"stack {root.stack.name!r} of environment {environment.name!r}"
            files[root.directory / file_name] = render_template(
                template,
                header=header(f"Source: {what} of {source_name} through templates/{template}.",
                              "Change the catalog and run `make render`."),
                deployment=deployment,
                root=root,
            )
    return files


def _root_template(root: Root, file_name: str) -> str:
    """A service group's stack has its own main.tf and outputs.tf; every other file is the single root's."""
    if root.is_group_stack and file_name in ("main.tf", "outputs.tf"):
        return f"stack/{file_name}.j2"
    return f"environment/{file_name}.j2"


# Environments are independent: a large catalog renders them in forked processes, one core each. Below
# this many services in all environments, starting processes costs more than it saves.
PARALLEL_FROM_SERVICES = 1500
_FORKED: tuple[Catalog, str] | None = None  # what a forked child renders from (inherited, never pickled)


def _render_forked(index: int) -> dict[PurePosixPath, str]:
    assert _FORKED is not None
    catalog, source_name = _FORKED
    return render_environment(catalog, catalog.environments[index], source_name)


def _environments_in_parallel(catalog: Catalog, source_name: str) -> list[dict[PurePosixPath, str]]:
    global _FORKED
    workers = min(len(catalog.environments), os.cpu_count() or 1)
    if (workers < 2 or len(catalog.services) * len(catalog.environments) < PARALLEL_FROM_SERVICES
            or "fork" not in multiprocessing.get_all_start_methods()):
        return [render_environment(catalog, environment, source_name) for environment in catalog.environments]
    _FORKED = (catalog, source_name)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_render_forked, range(len(catalog.environments))))
    finally:
        _FORKED = None


def render_catalog(catalog: Catalog) -> dict[PurePosixPath, str]:
    """Every output file's text, by path relative to the output directory."""
    # A file name is bytes to the OS: one that is not UTF-8 reaches Python as surrogate escapes,
    # which no generated file may hold; show such bytes as U+FFFD in the headers.
    source_name = PurePosixPath(catalog.file.replace("\\", "/")).name.encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace")
    files = render_modules()
    for module in MODULES:
        # Written by generator/render/module_docs.py from the rendered module (python-hcl2); `make golden` refreshes them.
        files[PurePosixPath("modules", module, "README.md")] = (TEMPLATES_DIR / "modules" / module / "README.md").read_text(
            encoding="utf-8")
    shared = SharedNames(catalog.platform.name)
    for file_name in SHARED_FILES:
        template = f"shared/{file_name}.j2"
        files[PurePosixPath("shared", file_name)] = render_template(
            template,
            header=header(f"Source: platform of {source_name} through templates/{template}.",
                          "Change the catalog and run `make render`."),
            catalog=catalog,
            shared=shared,
        )
    workflows = plan_workflows(catalog, f"catalog/{source_name}")
    if workflows is not None:
        yaml_header = yaml_text.YamlText("\n".join([GENERATED_MARKER, f"# Source: platform of {comment(source_name)} through "
                                                    "templates/github/. Change the catalog and run `make render`."]))
        environment = yaml_template_environment()
        files[PurePosixPath(WORKFLOWS_DIR, "deploy.yml")] = environment.get_template("github/deploy.yml.j2").render(
            header=yaml_header, workflows=workflows, platform=catalog.platform)
        files[PurePosixPath(WORKFLOWS_DIR, "terraform.yml")] = environment.get_template("github/terraform.yml.j2").render(
            header=yaml_header, platform=catalog.platform)
        for service in workflows.services:
            files[PurePosixPath(WORKFLOWS_DIR, service.file_name)] = environment.get_template(
                "github/deploy-service.yml.j2").render(header=yaml_header, service=service)
    for environment_files in _environments_in_parallel(catalog, source_name):
        files.update(environment_files)
    # What `render --check` reads before comparing the files: which generator version wrote this tree.
    files[PurePosixPath(RENDER_RECORD)] = (f"{GENERATED_MARKER}\n# Written by `python -m generator render`; CHANGELOG.md "
                                           f"says what each version changes in the output.\ngenerator_version: {VERSION}\n")
    return files
