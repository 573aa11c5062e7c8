"""One AWS session for every command that talks to AWS (deploy, rollback, deploy-status, migration-check,
preflight), and one line instead of a traceback when AWS cannot be used.

boto3 is imported here, lazily, so `render` never loads it. Standard credential chain; `AWS_ENDPOINT_URL`
points every client at an emulator. Throttling is retried by botocore (standard mode, with backoff) before
it becomes an error.

Exit codes of every AWS command: 0 done, 1 a check or deploy failed (the output says which), 2 bad usage,
3 a deploy gate refused, 4 AWS could not be used (unreachable endpoint, bad AWS_ENDPOINT_URL, no
credentials, a permission missing, throttled after retries, an answer that is not AWS's).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator
from urllib.parse import urlparse

import click

ATTEMPTS = 6  # botocore's standard retry mode: exponential backoff with jitter between attempts

_ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
                  "AuthorizationError", "AuthFailure")
_THROTTLED = ("Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
              "RequestLimitExceeded", "RequestThrottled", "SlowDown", "ProvisionedThroughputExceededException")
_BAD_CREDENTIALS = ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                    "InvalidSignatureException", "SignatureDoesNotMatch")


class AwsError(click.ClickException):
    """AWS could not be used; the message is one line that says what to do."""

    exit_code = 4


def attempts() -> int:
    """Attempts per request; AWS_MAX_ATTEMPTS (botocore's own setting) overrides the default."""
    value = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return int(value) if value.isdigit() and int(value) > 0 else ATTEMPTS


def endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL", "")


def _check_endpoint() -> None:
    value = endpoint()
    if not value:
        return
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise AwsError(f"AWS_ENDPOINT_URL={value!r} is not a URL; give one like http://127.0.0.1:5000, or unset it "
                       "to use AWS")
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise AwsError(f"AWS_ENDPOINT_URL={value!r} has a port that is not a number") from None


class Session:
    """boto3 clients of one region, made on first use, with the same retry and timeout settings everywhere."""

    def __init__(self, region: str):
        _check_endpoint()
        try:
            import boto3
            from botocore.config import Config
        except ImportError as error:  # pragma: no cover - boto3 is a dependency of the tool
            raise AwsError(f"boto3 is not installed ({error}); pip install boto3") from error
        self.region = region
        self.session = boto3.session.Session(region_name=region)
        if self.session.get_credentials() is None:
            raise AwsError("no AWS credentials found (environment, ~/.aws, SSO or instance role); log in first, "
                           "e.g. `aws sso login`, or set AWS_PROFILE")
        self.config = Config(retries={"max_attempts": attempts(), "mode": "standard"}, connect_timeout=10,
                             read_timeout=60)
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, name: str, region: str | None = None) -> Any:
        key = (name, region or self.region)
        if key not in self._clients:
            with errors():
                self._clients[key] = self.session.client(name, region_name=key[1], config=self.config)
        return self._clients[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("session", "config", "region"):
            raise AttributeError(name)
        return self.client(name)


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError (`ResourceNotFoundException`); empty for anything else."""
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def _where() -> str:
    return f" at {endpoint()}" if endpoint() else ""


def describe(error: BaseException) -> str | None:
    """One line for an exception that means AWS could not be used; None for anything else."""
    try:
        from botocore import exceptions as botocore
        from botocore.parsers import ResponseParserError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(error, (botocore.EndpointConnectionError, botocore.ConnectTimeoutError)):
        return (f"cannot reach AWS{_where()} ({type(error).__name__}); check the network, the region, or "
                "AWS_ENDPOINT_URL")
    if isinstance(error, botocore.ReadTimeoutError):
        return f"AWS{_where()} did not answer in time; try again, or check AWS_ENDPOINT_URL"
    if isinstance(error, (botocore.NoCredentialsError, botocore.PartialCredentialsError)):
        return "no AWS credentials found (environment, ~/.aws, SSO or instance role); log in first, e.g. `aws sso login`"
    if isinstance(error, botocore.NoRegionError):
        return "no AWS region; the catalog's platform.region should set it"
    if isinstance(error, ResponseParserError):
        return f"the endpoint{_where()} answered something that is not an AWS response; is it an AWS endpoint?"
    if isinstance(error, botocore.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        operation = getattr(error, "operation_name", "the request")
        if code in _ACCESS_DENIED:
            action = _iam_action(error, operation)
            return (f"permission denied: {action} ({code}); the role you run as needs that action"
                    + (f": {message}" if message else ""))
        if code in _THROTTLED:
            return f"AWS throttled {operation} {attempts()} times in a row ({code}); wait a minute and run it again"
        if code in _BAD_CREDENTIALS:
            return f"AWS refused the credentials ({code}): log in again (e.g. `aws sso login`)"
        return None
    if isinstance(error, botocore.BotoCoreError):
        return f"AWS{_where()} could not be used: {error}"
    return None


def _iam_action(error: BaseException, operation: str) -> str:
    """`ecr:DescribeImages`: the IAM action of the refused call, from the client that made it (its signing name is
    the IAM prefix for the services used here); the bare operation when no client is found."""
    trace = error.__traceback__
    while trace is not None:
        candidate = trace.tb_frame.f_locals.get("self")
        model = getattr(getattr(candidate, "meta", None), "service_model", None)
        if model is not None:
            return f"{model.signing_name}:{operation}"
        trace = trace.tb_next
    return operation


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Turn what means 'AWS cannot be used' into one AwsError line; anything else passes through."""
    try:
        yield
    except click.ClickException:
        raise
    except ValueError as error:
        if "endpoint" in str(error).lower():  # botocore: "Invalid endpoint: ..."
            raise AwsError(f"AWS_ENDPOINT_URL={endpoint()!r} is not a valid endpoint ({error})") from None
        raise
    except Exception as error:
        line = describe(error)
        if line is None and _is_client_error(error):
            # Any other refusal the command did not expect (a cluster that does not exist, a bad parameter):
            # still one line naming the call, never a traceback.
            details = error.response.get("Error", {})  # type: ignore[attr-defined]
            operation = getattr(error, "operation_name", "the request")
            line = (f"AWS refused {_iam_action(error, operation)} ({details.get('Code', '?')}): "
                    f"{details.get('Message', '')}".rstrip(": "))
        if line is None:
            raise
        raise AwsError(line) from None


def _is_client_error(error: BaseException) -> bool:
    try:
        from botocore.exceptions import ClientError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, ClientError)


@contextlib.contextmanager
def answers() -> Iterator[None]:
    """Inside a command's use of AWS responses: a response without the fields AWS always sends (a KeyError or
    TypeError while reading it) means the endpoint is not AWS. GENERATOR_DEBUG=1 shows the traceback."""
    try:
        yield
    except (KeyError, TypeError, IndexError) as error:
        if os.environ.get("GENERATOR_DEBUG"):
            raise
        raise AwsError(f"the endpoint{_where()} answered without {error!s} where AWS always sends it; is it an AWS "
                       "endpoint? (GENERATOR_DEBUG=1 shows where)") from None


# --- what exists: shared by preflight and migration-check ------------------------------------------------

def missing_secrets(client: Any, names: Any) -> list[str]:
    """Secrets Manager secrets of `names` that do not exist or are scheduled for deletion (ECS cannot start a
    task that reads one)."""
    missing = []
    for name in names:
        try:
            described = client("secretsmanager").describe_secret(SecretId=name)
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            missing.append(name)
            continue
        if described.get("DeletedDate"):
            missing.append(f"{name} (scheduled for deletion)")
    return missing


def missing_parameters(client: Any, names: Any) -> list[str]:
    """SSM parameters of `names` that do not exist; GetParameters takes 10 names a call."""
    wanted = sorted(set(names))
    missing: list[str] = []
    for start in range(0, len(wanted), 10):
        missing += client("ssm").get_parameters(Names=wanted[start:start + 10]).get("InvalidParameters", [])
    return sorted(missing)
