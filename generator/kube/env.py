"""Environment values and commands of imported containers: Kubernetes `$(VAR)` references,
credentials in arguments, and the addresses of other services inside values."""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.catalog.validate import SECRET_LOOKING_NAME, credential_kind

VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# Kubernetes expands `$(NAME)` from variables defined before it in the container; `$$(NAME)` is a literal.
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# Host forms: a Service name, optionally `.namespace[.svc[.cluster.local]]`.
_HOST = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+(?:\.svc(?:\.cluster\.local)?)?)?"
ADDRESS_IN_URL = re.compile(rf"(?P<scheme>[a-z][a-z0-9+.-]*)://(?:[^/@\s]*@)?(?P<host>{_HOST})(?::(?P<port>\d+))?(?=[/?#,;\s]|$)")
ADDRESS_ALONE = re.compile(rf"(?P<host>{_HOST})(?::(?P<port>\d+))?")
# Variables whose bare value is a host name (`QUEUE_HOSTNAME=queue`, `DB_HOST=db.shop.svc.cluster.local`).
HOST_VARIABLE = re.compile(r"(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVERS|SERVICE|ENDPOINT|BROKERS?|NODES?)$")
HOST_SUFFIX = re.compile(r"_(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVICE)$")
# Values that cannot be credentials, whatever their variable's name says.
_HARMLESS = re.compile(r"(?i)-?\d+(\.\d+)?(ms|s|m|h|d)?|true|false|yes|no|on|off|")
# Flags that pass a credential on the command line (`--password X`, `--requirepass=X`, `--auth-token X`).
_CREDENTIAL_FLAG = re.compile(r"^--?(?P<name>[A-Za-z][A-Za-z0-9_-]*)(?:=(?P<value>.*))?$")


@dataclass(frozen=True)
class Expansion:
    value: str
    unresolved: tuple[str, ...]  # names not defined before (or only as secrets): ECS would keep `$(NAME)`


def expand(value: str, defined: dict[str, str]) -> Expansion:
    unresolved: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name in defined:
            return defined[name]
        unresolved.append(name)
        return match.group(0)

    return Expansion(_REFERENCE.sub(replace, value), tuple(unresolved))


def harmless(value: str) -> str | None:
    """Why a value under a credential-looking name is not a credential; None when it may be one."""
    if _HARMLESS.fullmatch(value.strip()):
        return "a number, duration or switch, not a credential"
    if re.match(r"^[a-z][a-z0-9+.-]*://\S*$", value) and credential_kind(value) is None:
        return "a URL without a password"
    return None


def credential_in_plain_value(name: str, value: str) -> str | None:
    """Why a plain `name=value` must not be copied (a credential), or None."""
    kind = credential_kind(value)
    if kind:
        return kind
    if SECRET_LOOKING_NAME.search(name) and harmless(value) is None:
        return "by its name"
    return None


def scrub_credentials(arguments: list[str]) -> tuple[list[str], list[str]]:
    """A command without the flags that pass credentials on the command line; (kept, flags removed)."""
    kept, removed = [], []
    skip_next = False
    for index, argument in enumerate(arguments):
        if skip_next:
            skip_next = False
            continue
        match = _CREDENTIAL_FLAG.match(argument)
        name = match.group("name").upper().replace("-", "_") if match else ""
        if match and (SECRET_LOOKING_NAME.search(name) or name in ("REQUIREPASS", "AUTH", "PASS", "PWD")):
            removed.append(f"--{match.group('name')}")
            skip_next = match.group("value") is None and index + 1 < len(arguments) \
                and not arguments[index + 1].startswith("-")
            continue
        if credential_kind(argument):
            removed.append(f"an argument that looks like {credential_kind(argument)}")
            continue
        kept.append(argument)
    return kept, removed


@dataclass(frozen=True)
class Address:
    host: str
    port: int | None
    text: str  # as written, e.g. `http://ratings:9080` or `ratings.shop:9080`
    scheme: str | None


def addresses(variable: str, value: str) -> list[Address]:
    """Service addresses in a value: inside URLs, a whole `host:port` (or a comma list of them), or a bare
    host in a host-like variable."""
    found = [Address(m.group("host"), int(m.group("port")) if m.group("port") else None,
                     m.group(0), m.group("scheme")) for m in ADDRESS_IN_URL.finditer(value)]
    if found:
        return found
    for part in (p.strip() for p in value.split(",")):
        whole = ADDRESS_ALONE.fullmatch(part)
        if not whole:
            continue
        if whole.group("port") or HOST_VARIABLE.search(variable) or ".svc" in part:
            found.append(Address(whole.group("host"), int(whole.group("port")) if whole.group("port") else None,
                                 part, None))
    return found


def port_partner(variable: str) -> str | None:
    """`QUEUE_HOSTNAME` -> `QUEUE_PORT`: the variable that carries a host variable's port."""
    match = HOST_SUFFIX.search(variable)
    return None if match is None else variable[: match.start()] + "_PORT"
