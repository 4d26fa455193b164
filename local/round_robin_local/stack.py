"""The local stack: the AWS emulator (moto, server mode), the resources of template.yaml, the Zendesk sandbox
(unless ZENDESK_URL_TEMPLATE points elsewhere), and the HTTP API in front of the real handlers."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from round_robin_local.api import ApiGateway, Throttle
from round_robin_local.aws_proxy import CountingProxy
from round_robin_local.emulator import EmulatorProcess, free_port
from round_robin_local.event_sources import ScheduleSource, SqsEventSource, schedule_sources, sqs_event_sources
from round_robin_local.functions import LocalFunction, function_environment, load_functions, parse_concurrency
from round_robin_local.provision import create_secret, provision
from round_robin_local.sandbox.model import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from round_robin_local.sandbox.server import SandboxServer
from round_robin_local.serving import LoopbackServer
from round_robin_local.template import PSEUDO, Resolver, load_template

STACK_NAME = "round-robin-local"
# Template parameters that the local stack takes from the environment variable the functions read them as.
PARAMETERS_FROM_ENVIRONMENT = {"AccessTokenLifetimeSeconds": "ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS",
                               "RefreshTokenLifetimeSeconds": "ZENDESK_REFRESH_TOKEN_LIFETIME_SECONDS"}


@dataclass(frozen=True)
class StackConfig:
    """The local stack's settings (../shared/CONTRACT.md), read from the environment."""

    port: int = 3000
    zendesk_url_template: str | None = None  # None: start the embedded sandbox
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    public_base_url: str | None = None
    sandbox_port: int = 0
    emulator_port: int = 0
    auto_approve: bool = False
    concurrency: tuple[tuple[str, int], ...] = ()  # LOCAL_CONCURRENCY: execution environments per function
    parameters: tuple[tuple[str, str], ...] = ()  # template parameters set through PARAMETERS_FROM_ENVIRONMENT

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> StackConfig:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {
            "port": int(env.get("PORT") or 3000),
            "zendesk_url_template": env.get("ZENDESK_URL_TEMPLATE") or None,
            "client_id": env.get("ZENDESK_CLIENT_ID") or DEFAULT_CLIENT_ID,
            "client_secret": env.get("ZENDESK_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
            "public_base_url": (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            "sandbox_port": int(env.get("SANDBOX_PORT") or 0),
            "emulator_port": int(env.get("EMULATOR_PORT") or 0),
            "auto_approve": env.get("SANDBOX_AUTO_APPROVE", "") in ("1", "true", "yes"),
            "concurrency": tuple(parse_concurrency(env.get("LOCAL_CONCURRENCY", "")).items()),
            "parameters": tuple((p, env[v]) for p, v in PARAMETERS_FROM_ENVIRONMENT.items() if env.get(v)),
        }
        values.update(overrides)
        return cls(**values)


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.sandbox: SandboxServer | None = None
        self.emulator: EmulatorProcess | None = None
        self.emulator_url = ""
        self.proxy: LoopbackServer | None = None
        self.counter: CountingProxy | None = None
        self.api: LoopbackServer | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.event_sources: list[SqsEventSource | ScheduleSource] = []
        self.resolver: Resolver | None = None
        self._function_environment: dict[str, str] = {}

    @property
    def url(self) -> str:
        assert self.api is not None
        return self.api.url

    @property
    def public_base_url(self) -> str:
        return self.config.public_base_url or self.url

    @property
    def zendesk_url_template(self) -> str:
        if self.config.zendesk_url_template:
            return self.config.zendesk_url_template
        assert self.sandbox is not None
        return self.sandbox.url_template

    def start(self) -> LocalStack:
        config = self.config
        if config.zendesk_url_template is None:
            self.sandbox = SandboxServer(config.sandbox_port, client_id=config.client_id,
                                         client_secret=config.client_secret, auto_approve=config.auto_approve).start()

        self.emulator = EmulatorProcess(config.emulator_port or free_port()).start()
        self.emulator_url = self.emulator.url
        # The handlers reach the emulator through a proxy that counts their AWS calls (see aws_proxy.py).
        self.counter = CountingProxy(self.emulator_url)
        self.proxy = LoopbackServer(self.counter, name="aws-proxy", access_log=False)
        self.proxy.start()
        os.environ.update({
            "AWS_ENDPOINT_URL": self.proxy.url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # noqa: S105 - the emulator's dummy credentials
            "AWS_DEFAULT_REGION": PSEUDO["AWS::Region"],
            "AWS_REGION": PSEUDO["AWS::Region"],
            "POWERTOOLS_TRACE_DISABLED": "true",
        })

        template = load_template()
        # The API must listen before PUBLIC_BASE_URL can default to its address.
        self.api = LoopbackServer(self._dispatch, config.port, name="local-api")
        secret_arn = create_secret(self.emulator_url, f"{STACK_NAME}/zendesk-client-secret", config.client_secret)
        defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
        self.resolver = Resolver(STACK_NAME, {
            **defaults,
            "ZendeskClientId": config.client_id,
            "ZendeskClientSecretArn": secret_arn,
            "ZendeskUrlTemplate": self.zendesk_url_template,
            "PublicBaseUrl": self.public_base_url,
            "MarketplaceName": "",
            "MarketplaceOrganizationId": "",
            "MarketplaceAppId": "",
            "LogLevel": os.environ.get("LOG_LEVEL", "INFO"),
            **dict(config.parameters),
        }, conditions=template.get("Conditions", {}))
        provision(template, self.resolver, self.emulator_url)
        self._function_environment = function_environment(template, self.resolver)
        os.environ.update(self._function_environment)  # inherited by every execution environment
        self.functions = load_functions(template, dict(config.concurrency))
        for function in self.functions.values():
            function.start()
        with ThreadPoolExecutor(max_workers=len(self.functions)) as warming:  # cold starts, in parallel
            list(warming.map(lambda f: f.warm(), self.functions.values()))
        self.event_sources = [*sqs_event_sources(self.functions, self.resolver, self.emulator_url),
                              *schedule_sources(self.functions, self.resolver)]
        for source in self.event_sources:
            source.start()
        # API Gateway's throttling of the template's routes applies here too (429 past a route's bucket)
        self._gateway = ApiGateway(self.functions, self.info, self.drain,
                                   throttle=Throttle.from_template(template, self.resolver))
        self.api.start()
        return self

    def drain(self, queue: str, timeout: float) -> bool | None:
        """Wait until the event source of the template's queue `queue` (logical id) has delivered every message;
        None if no event source reads it."""
        assert self.resolver is not None
        url = self.resolver.refs.get(queue)
        source = next((s for s in self.event_sources if isinstance(s, SqsEventSource) and s.queue_url == url), None)
        return None if source is None else source.wait_until_drained(timeout)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self._gateway(environ, start_response)

    def info(self) -> dict[str, Any]:
        assert self.resolver is not None
        return {
            "api": self.url,
            "public_base_url": self.public_base_url,
            "connect_link": f"{self.public_base_url}/oauth/start?subdomain=acme",
            "console_link": f"{self.public_base_url}/admin?subdomain=acme",
            "zendesk_url_template": self.zendesk_url_template,
            "sandbox": self.sandbox.url if self.sandbox else None,
            "emulator": self.emulator_url,
            "table": self.resolver.refs.get("Table"),
            "queue": self.resolver.refs.get("AssignmentQueue"),
            "dead_letter_queue": self.resolver.refs.get("AssignmentDeadLetterQueue"),
            "secret_prefix": f"{STACK_NAME}/accounts/",
            "functions": sorted(self.functions),
            "concurrency": {name: f.concurrency for name, f in sorted(self.functions.items())},
            "aws_calls": self.counter.snapshot() if self.counter else {},
            # The same, per function (the AWS SDK names it in its User-Agent): what each function's IAM must allow.
            "aws_calls_by_function": {name: self.counter.resources_used(name) for name in sorted(self.functions)}
            if self.counter else {},
            # Every Ref of the template (parameters, resources) as the local stack resolved it: names, URLs and
            # ARNs, no secret values.
            "refs": {k: v for k, v in {**self.resolver.parameters, **self.resolver.refs}.items() if isinstance(v, str)},
            # What the functions are configured with (names and ARNs, no secret values), so that the operator
            # CLI can use the same resources: `round-robin --local <api url> ...`.
            "environment": {k: v for k, v in self._function_environment.items()},
        }

    def stop(self) -> None:
        """Stop everything in three steps, each step's parts at once (Ctrl-C on `make run` returns in about a
        second or two): the API and the queue pollers (each finishes its 1-second long poll and the batch it is
        delivering), then the functions, then what they call (the AWS emulator and its proxy, the sandbox), so
        that no batch in flight meets a stopped emulator."""
        steps = [[*((self.api.stop,) if self.api else ()), *(s.stop for s in self.event_sources)],
                 [f.stop for f in self.functions.values()],
                 [p.stop for p in (self.proxy, self.emulator, self.sandbox) if p is not None]]
        for parts in steps:
            with ThreadPoolExecutor(max_workers=max(1, len(parts))) as stopping:
                list(stopping.map(lambda stop: stop(), parts))
