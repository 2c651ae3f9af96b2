"""A domain's mail servers as targets: ``mx:example.com`` and ``--mx``.

Mail servers' certificates are the ones nobody watches: a domain's MX hosts are
named in its DNS, not in anyone's list. ``mx:example.com`` (and ``--mx``, which
adds ``mx:name`` for every bare name of a run) is looked up here, before the run,
and becomes one SMTP STARTTLS target on port 25 per MX host, each with
``Target.serves`` naming the domain, so results say whose mail they carry. The
check itself (SNI = the MX host's name, STARTTLS) is the same as for any
``smtp://`` target.

What cannot become a target is reported like a rejected input line
(:class:`~core.models.InputError`, source ``<mx>``), never as a failure of the
whole run:

* a null MX (RFC 7505): "example.com accepts no mail (null MX)";
* no MX record: "example.com has no MX record (mail would go to its own address;
  check it as smtp://example.com)";
* a failed lookup: the DNS error, e.g. "could not resolve the mail servers of
  example.com (no such domain)".
"""

from __future__ import annotations

import asyncio
import dataclasses

from core import errors
from core.dns import DnsResolver, MailServers
from core.domains import ParseResult
from core.models import DEFAULT_PROTOCOL, MX_PROTOCOL, SMTP_PORT, InputError, Target

__all__ = ["MX_SOURCE", "SMTP_PROTOCOL", "add_mx", "expand", "has_mx"]

#: ``InputError.source`` of what an MX lookup could not turn into targets.
MX_SOURCE = "<mx>"
#: The protocol MX hosts are checked with: SMTP STARTTLS.
SMTP_PROTOCOL = "smtp"
#: Most MX hosts of one domain that are checked (the most preferred ones).
MAX_MX_HOSTS = 16


def has_mx(result: ParseResult) -> bool:
    """Whether ``result`` holds ``mx:`` entries still to be looked up."""
    return any(target.protocol == MX_PROTOCOL for target in result.targets)


def add_mx(result: ParseResult) -> ParseResult:
    """``--mx``: ``mx:name`` for every bare name of ``result`` (not IP addresses),
    after the targets already there."""
    targets = {target.key: target for target in result.targets}
    for target in result.targets:
        if target.protocol == DEFAULT_PROTOCOL and not target.is_ip:
            mail = Target(
                host=target.host,
                port=SMTP_PORT,
                display=target.display,
                protocol=MX_PROTOCOL,
                group=target.group,
                threshold_days=target.threshold_days,
            )
            targets.setdefault(mail.key, mail)
    return ParseResult(list(targets.values()), result.errors)


async def expand(result: ParseResult, resolver: DnsResolver) -> ParseResult:
    """``result`` with every ``mx:`` entry replaced by its MX hosts (in place, by
    preference), looked up concurrently; what has none becomes an input error."""
    domains = [target for target in result.targets if target.protocol == MX_PROTOCOL]
    if not domains:
        return result
    answers = await asyncio.gather(
        *(_lookup(resolver, target.host) for target in domains), return_exceptions=True
    )
    by_domain = dict(zip((target.key for target in domains), answers, strict=True))
    targets: dict[tuple[str, int], Target] = {}
    problems: list[InputError] = []
    for target in result.targets:
        if target.protocol != MX_PROTOCOL:
            targets.setdefault(target.key, target)
            continue
        answer = by_domain[target.key]
        if isinstance(answer, BaseException):
            if not isinstance(answer, errors.DnsFailure):
                raise answer
            problems.append(_error(problems, target, str(answer)))
        elif answer.null:
            problems.append(_error(problems, target, f"{target.display} accepts no mail (null MX)"))
        elif not answer.hosts:
            problems.append(
                _error(
                    problems,
                    target,
                    f"{target.display} has no MX record (mail would go to its own address;"
                    f" check it as smtp://{target.display})",
                )
            )
        else:
            for host in answer.hosts[:MAX_MX_HOSTS]:
                mail = _mail_target(target, host)
                targets.setdefault(mail.key, mail)
    return ParseResult(list(targets.values()), [*result.errors, *problems])


async def _lookup(resolver: DnsResolver, domain: str) -> MailServers:
    return await resolver.mail_servers(domain)


def _mail_target(domain: Target, host: str) -> Target:
    """The SMTP target of one MX host of ``domain`` (its group and threshold too)."""
    from core.domains import normalize_host

    try:
        name, display = normalize_host(host)
    except ValueError:  # an MX host that is not a usable name: checked as it is
        name, display = host, host
    return dataclasses.replace(
        domain,
        host=name,
        display=display,
        port=SMTP_PORT,
        protocol=SMTP_PROTOCOL,
        serves=domain.display,
    )


def _error(problems: list[InputError], target: Target, text: str) -> InputError:
    return InputError(MX_SOURCE, len(problems) + 1, f"mx:{target.display}", text)
