"""Start moto's server on 127.0.0.1:<port> with the gaps that matter for this stack filled.

Test harness only: every patch below fills a gap of the emulator (moto 5.2.5) with
what AWS does, so that a real `terraform apply` / `plan` / `destroy` of the
generated code behaves as it would against AWS. Nothing here changes what
production gets.

Usage: python moto_server.py PORT
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
import time
from typing import Any

# Gap: AWS-managed IAM policies exist only when moto is asked to load them.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
# Gap: moto simulates a 60 s wait before a requested certificate is issued.
os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "0")
# Gap: moto runs no tasks. Every service it creates reports two running tasks (the
# minimum of the services `migration-check` is tried on), as a healthy service would.
os.environ.setdefault("MOTO_ECS_SERVICE_RUNNING", "2")

from moto.applicationautoscaling import responses as autoscaling_responses  # noqa: E402
from moto.ecs import responses as ecs_responses  # noqa: E402


def _fill_application_autoscaling_tagging() -> None:
    """Gap: Application Auto Scaling has no ListTagsForResource/TagResource/UntagResource,
    and RegisterScalableTarget ignores `Tags`; the provider then retries for minutes."""
    response_class = autoscaling_responses.ApplicationAutoScalingResponse
    tags_by_arn: dict[str, dict[str, str]] = {}
    original_register = response_class.register_scalable_target

    def register_scalable_target(self: Any) -> str:
        body = original_register(self)
        arn = __import__("json").loads(body)["ScalableTargetARN"]
        tags_by_arn.setdefault(arn, {}).update(self._get_param("Tags") or {})
        return body

    def list_tags_for_resource(self: Any) -> str:
        return __import__("json").dumps({"Tags": tags_by_arn.get(self._get_param("ResourceARN"), {})})

    def tag_resource(self: Any) -> str:
        tags_by_arn.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        tags = tags_by_arn.setdefault(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    response_class.register_scalable_target = register_scalable_target
    response_class.list_tags_for_resource = list_tags_for_resource
    response_class.tag_resource = tag_resource
    response_class.untag_resource = untag_resource


_KEPT_SERVICE_FIELDS = (
    "availabilityZoneRebalancing",
    "capacityProviderStrategy",
    "deploymentConfiguration",
    "enableExecuteCommand",
    "enableECSManagedTags",
    "healthCheckGracePeriodSeconds",
)


def _keep_ecs_service_fields() -> None:
    """Gap: CreateService/UpdateService drop the capacity-provider strategy, deployment
    configuration, execute-command and managed-tags flags, grace period and Service
    Connect configuration, and default launchType to EC2. AWS returns them (Service
    Connect under deployments[0]), and without them every re-plan replaces each service."""
    response_class = ecs_responses.EC2ContainerServiceResponse

    def keep(self: Any, service: Any) -> None:
        for key in _KEPT_SERVICE_FIELDS:
            value = self._get_param(key)
            if value is not None:
                setattr(service, key, value)
        if self._get_param("capacityProviderStrategy"):
            service.launch_type = None
            for deployment in service.deployments:
                deployment.pop("launchType", None)
                deployment["capacityProviderStrategy"] = self._get_param("capacityProviderStrategy")
        connect = self._get_param("serviceConnectConfiguration")
        if connect is not None and service.deployments:
            service.deployments[0]["serviceConnectConfiguration"] = connect

    for name in ("create_service", "update_service"):
        original = getattr(response_class, name)

        def wrapped(self: Any, _original: Any = original) -> Any:
            result = _original(self)
            service = result.result["service"] if hasattr(result, "result") else None
            if service is not None:
                keep(self, service)
            return result

        setattr(response_class, name, wrapped)


_ROLLOUT_SECONDS = float(os.environ.get("E2E_ROLLOUT_SECONDS", "4"))


def _roll_out_deployments() -> None:
    """Gap: UpdateService with a new task definition starts no deployment (the PRIMARY one keeps
    the old revision and never changes state), so nothing that waits for a rollout can finish.

    Here, as in ECS: a new task definition makes a new PRIMARY deployment (IN_PROGRESS) and the
    old one ACTIVE; after a few seconds the new one is COMPLETED and the old one gone. Failure
    injection for the deploy tests, in this harness only: an image whose tag contains `broken`
    fails like a circuit breaker with rollback (FAILED, the previous revision PRIMARY again)."""
    import copy as copy_module

    from moto.core.utils import utcnow
    from moto.ecs import models

    backend_class = models.EC2ContainerServiceBackend
    original_update, original_describe = backend_class.update_service, backend_class.describe_services

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        new_definition = service_properties.get("task_definition")
        service = original_update(self, service_properties)
        if new_definition:
            # Gap: the service keeps the string it was given (`family:3`); AWS answers with the
            # revision's ARN, and the provider's read of a non-ARN value panics.
            new_definition = self.describe_task_definition(new_definition).arn
            service.task_definition = new_definition
        current = service.deployments[0] if service.deployments else None
        if new_definition and current is not None and current["taskDefinition"] != new_definition:
            started = copy_module.deepcopy(current)
            started.update(id=f"ecs-svc/{int(time.time() * 1000)}", taskDefinition=new_definition, status="PRIMARY",
                           rolloutState="IN_PROGRESS", rolloutStateReason="ECS deployment in progress.",
                           runningCount=0, createdAt=utcnow(), updatedAt=utcnow())
            previous = copy_module.deepcopy(current)
            previous["status"] = "ACTIVE"
            service.deployments = [started, previous]
            service._rollout_started = time.monotonic()
        return service

    def progress(self: Any, service: Any) -> None:
        started = getattr(service, "_rollout_started", None)
        if started is None or time.monotonic() - started < _ROLLOUT_SECONDS:
            return
        new, *old = service.deployments
        image = self.describe_task_definition(new["taskDefinition"]).container_definitions[0].get("image", "")
        if "broken" in image and new["rolloutState"] == "IN_PROGRESS" and old:
            new.update(rolloutState="FAILED", status="ACTIVE", runningCount=0,
                       rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
            back = copy_module.deepcopy(old[0])
            back.update(status="PRIMARY", rolloutState="COMPLETED")
            service.deployments = [back, new]
            service.task_definition = back["taskDefinition"]
            service._rollout_started = time.monotonic()  # the failed one drains next
            return
        if new["rolloutState"] == "IN_PROGRESS":
            new.update(rolloutState="COMPLETED", rolloutStateReason="ECS deployment completed.",
                       runningCount=new.get("desiredCount", 0), updatedAt=utcnow())
        service.deployments = [new]
        service._rollout_started = None

    def describe_services(self: Any, cluster_str: str, service_names_or_arns: list[str]) -> Any:
        result = original_describe(self, cluster_str, service_names_or_arns)
        for service in result[0]:
            progress(self, service)
        return result

    backend_class.update_service = update_service
    backend_class.describe_services = describe_services

    # Gap: a task definition family alone resolves to its newest revision even when that one
    # is INACTIVE (deregistered); AWS resolves it to the newest ACTIVE revision.
    def last_active_revision(self: Any, family: str) -> Any:
        definitions = self.task_definitions.get(family) or {}
        active = [revision for revision, definition in definitions.items() if definition.status == "ACTIVE"]
        return max(active) if active else (max(definitions) if definitions else None)

    backend_class._get_last_task_definition_revision_id = last_active_revision


def _keep_referenced_rule_descriptions() -> None:
    """Gap: moto keeps a rule's description only for CIDR rules; AWS keeps it for rules
    that reference a security group or a prefix list too, and without it every such rule drifts."""
    from moto.ec2.models import security_groups

    rule_init = security_groups.SecurityGroupRule.__init__

    def keep_prefix_list_description(self: Any, *args: Any, **kwargs: Any) -> None:
        rule_init(self, *args, **kwargs)
        prefix_list = kwargs.get("prefix_list_id") or (args[7] if len(args) > 7 else None) or {}
        self.prefix_list_description = prefix_list.get("Description")

    def description(self: Any) -> str | None:
        return (self.ip_range.get("Description") or (self.source_group or {}).get("Description")
                or getattr(self, "prefix_list_description", None))

    security_groups.SecurityGroupRule.__init__ = keep_prefix_list_description
    security_groups.SecurityGroupRule.description = property(description)


_READ_ACTION = re.compile(rb"^(Describe|List|Get|Head|Check|Search|Lookup)")
_REPLAY_SECONDS = 10.0


def _cloudfront_as_aws_answers() -> None:
    """Gaps: moto answers a cache behaviour that uses a cache policy with legacy ForwardedValues, and a
    viewer certificate from ACM with CloudFrontDefaultCertificate=true; AWS returns neither, so every
    re-plan would show a change. And a distribution stays InProgress for several polls (the provider
    waits for Deployed at create, disable and delete); AWS takes minutes, so nothing is proven by waiting."""
    from moto.cloudfront import models
    from moto.moto_api import state_manager

    state_manager.set_transition("cloudfront::distribution", {"progression": "immediate"})
    behaviour_init = models.DefaultCacheBehaviour.__init__

    def behaviour(self: Any, config: dict[str, Any]) -> None:
        behaviour_init(self, config)
        if self.cache_policy_id and "ForwardedValues" not in config:
            self.forwarded_values = None

    models.DefaultCacheBehaviour.__init__ = behaviour
    certificate_init = models.ViewerCertificate.__init__

    def certificate(self: Any, config: dict[str, Any]) -> None:
        certificate_init(self, config)
        if self.acm_certificate_arn or self.iam_certificate_id:
            self.cloud_front_default_certificate = False
            self.certificate_source = "acm" if self.acm_certificate_arn else "iam"

    models.ViewerCertificate.__init__ = certificate


def _action(environ: dict[str, Any], body: bytes) -> bytes:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1].encode()
    match = re.search(rb"(?:^|&)Action=([A-Za-z]+)", body)
    return match.group(1) if match else environ.get("REQUEST_METHOD", "").encode()


def _serialise_requests() -> None:
    """Two gaps, one wrapper around the whole application.

    1. moto's backends are not thread-safe while the server is threaded (e.g. revoking two
       rules of one security group at once rebuilds the rule list twice): one lock around
       each request makes the emulator behave like the consistent API it stands for.
    2. Under the load of a 600-resource apply the provider now and then sends a request a
       second time although the first was carried out (its response went missing); the
       second attempt then fails with "already exists" / "not found". Like an idempotent
       AWS API, an identical mutating request within a few seconds gets the first answer.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lock = threading.Lock()
    answered: dict[tuple[Any, ...], tuple[float, str, list[tuple[str, str]], bytes, str | None]] = {}
    original = DomainDispatcherApplication.__call__

    def locked(self: Any, environ: Any, start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        mutating = environ.get("REQUEST_METHOD") not in ("GET", "HEAD") and not _READ_ACTION.match(_action(environ, body))
        # The region is part of the request's identity (the same call in two regions is two calls).
        region = re.search(r"Credential=[^/]+/\d+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        key = (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), environ.get("QUERY_STRING"),
               environ.get("HTTP_X_AMZ_TARGET"), region.group(1) if region else None, body)
        with lock:
            now = time.monotonic()
            previous = answered.get(key) if mutating else None
            # Only an SDK's retry (attempt 2 or later) is the same request again; a first attempt is a new one
            # (a test that deletes and re-creates a bucket within seconds means it).
            first_attempt = "attempt=1;" in environ.get("HTTP_AMZ_SDK_REQUEST", "")
            if previous and now - previous[0] < _REPLAY_SECONDS and not first_attempt:
                _, status, headers, content, _ = previous
                # Evidence for the harness: which requests arrived twice, and how long apart.
                print(f"REPLAYED {_action(environ, body).decode()} {environ.get('PATH_INFO')} after "
                      f"{now - previous[0]:.2f} s; amz-sdk-request {environ.get('HTTP_AMZ_SDK_REQUEST', '-')!r}, "
                      f"same invocation id as the first: {environ.get('HTTP_AMZ_SDK_INVOCATION_ID') == previous[4]}",
                      file=sys.stderr, flush=True)
                start_response(status, headers)
                return [content]
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            content = b"".join(original(self, environ, capture))
            if mutating and captured.get("status", "").startswith("2"):
                for stale in [k for k, v in answered.items() if now - v[0] >= _REPLAY_SECONDS]:
                    del answered[stale]
                answered[key] = (now, captured["status"], captured["headers"], content,
                                 environ.get("HTTP_AMZ_SDK_INVOCATION_ID"))
            return [content]

    DomainDispatcherApplication.__call__ = locked


# AWS's default values of the quotas `preflight` reads that moto does not know (Service Quotas has only VPC
# quotas in moto 5.2.5). A test lowers one by writing {"service-quotas": {"fargate/L-3032A538": 1}} or
# {"elbv2": {"rules-per-application-load-balancer": 1}} to the file E2E_ACCOUNT_QUOTAS names; read per request.
DEFAULT_QUOTAS = {"fargate/L-3032A538": 4000.0, "fargate/L-36FBB829": 4000.0, "ecs/L-9EF96962": 5000.0}


def _account_quotas_overrides() -> dict[str, Any]:
    path = os.environ.get("E2E_ACCOUNT_QUOTAS")
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _account_quotas() -> None:
    """Gap: Service Quotas answers only VPC quotas, and ELB's account limits cannot be changed."""
    from moto.elbv2.responses import ELBV2Response
    from moto.servicequotas import models

    get_service_quota = models.ServiceQuotasBackend.get_service_quota

    def with_compute_quotas(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        key = f"{service_code}/{quota_code}"
        values = {**DEFAULT_QUOTAS, **_account_quotas_overrides().get("service-quotas", {})}
        if key in values:
            return {"ServiceCode": service_code, "QuotaCode": quota_code, "QuotaName": key, "Value": float(values[key]),
                    "Unit": "None", "Adjustable": True, "GlobalQuota": False}
        return get_service_quota(self, service_code, quota_code)

    models.ServiceQuotasBackend.get_service_quota = with_compute_quotas
    describe_account_limits = ELBV2Response.describe_account_limits

    def adjustable_limits(self: Any) -> Any:
        result = describe_account_limits(self)
        overrides = _account_quotas_overrides().get("elbv2", {})
        for limit in result.result["Limits"]:
            if limit["Name"] in overrides:
                limit["Max"] = overrides[limit["Name"]]
        return result

    ELBV2Response.describe_account_limits = adjustable_limits


def main() -> None:
    port = int(sys.argv[1])
    os.environ["MOTO_PORT"] = str(port)
    _serialise_requests()
    _fill_application_autoscaling_tagging()
    _keep_ecs_service_fields()
    _roll_out_deployments()
    _keep_referenced_rule_descriptions()
    _cloudfront_as_aws_answers()
    _account_quotas()
    # Not a gap but the opposite: refusals AWS makes that moto does not (IAM sizes, rule quotas, ...).
    from aws_limits import enforce_aws_limits

    enforce_aws_limits()
    import waitress
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # Gap: moto's own server is werkzeug's development server. Under a 600-resource apply
    # it sometimes loses a response after the request was carried out; the provider then
    # retries a create that had succeeded and fails with "already exists" (or a delete,
    # with "not found"). waitress, a production WSGI server, serves the same application.
    waitress.serve(DomainDispatcherApplication(create_backend_app), host="127.0.0.1", port=port,
                   threads=8, connection_limit=500, channel_timeout=600, _quiet=True)


if __name__ == "__main__":
    main()
