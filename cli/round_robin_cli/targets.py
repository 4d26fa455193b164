"""Where the commands run: the local stack (`--local URL`), a deployed stack (`--stack NAME`) or, with neither,
the functions' environment variables set by the operator. Each gives the environment the functions run with;
failing to find it is a CliError that says what to do, never a library's traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from round_robin_cli.errors import CliError

HEALTH_TIMEOUT = 10.0
FUNCTION = "AssignTicketFunction"  # a function whose environment holds every setting the commands need
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_REFUSED = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
            "UnauthorizedOperation"}


def local_environment(url: str) -> dict[str, str]:
    """The local stack's function environment, from its `/_local/health` (AWS through its emulator)."""
    import requests

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--local takes the local stack's API URL, like http://127.0.0.1:3000 (got {url!r})")
    base = url.rstrip("/")
    try:
        answer = requests.get(f"{base}/_local/health", timeout=HEALTH_TIMEOUT)
    except requests.ConnectionError as exc:
        raise CliError(f"nothing answers at {base}: start the local stack with `make run` and pass the API URL "
                       "it prints") from exc
    except requests.Timeout as exc:
        raise CliError(f"{base} did not answer within {HEALTH_TIMEOUT:.0f} s") from exc
    except requests.RequestException as exc:
        raise CliError(f"{base} could not be asked ({type(exc).__name__})") from exc
    info = _json_object(answer) if answer.status_code == 200 else {}
    environment, emulator = info.get("environment"), info.get("emulator")
    if not (isinstance(environment, dict) and isinstance(emulator, str)):
        raise CliError(f"{base} answers, but not as the local stack (GET /_local/health: HTTP {answer.status_code}):"
                       " pass the API URL that `make run` prints")
    return {**{k: str(v) for k, v in environment.items()}, "AWS_ENDPOINT_URL": emulator,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}


def _json_object(answer: Any) -> dict[str, Any]:
    try:
        value = answer.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def stack_environment(stack: str, make_client: Callable[[str], Any] | None = None) -> dict[str, str]:
    """A deployed stack's function environment, read with the operator's AWS credentials."""
    import boto3

    # A session of its own: boto3's default session keeps the credentials it found first, for the whole process.
    make_client = make_client or boto3.session.Session().client
    try:
        cloudformation = make_client("cloudformation")
        try:
            described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if _code(exc) != "ValidationError":  # CloudFormation's answer for a stack name it does not know
                raise
            raise CliError(f"there is no stack {stack} in {cloudformation.meta.region_name}: check the name "
                           "(`sam list stacks`, or the AWS console) and the region") from exc
        try:
            resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=FUNCTION)
        except ClientError as exc:
            if _code(exc) != "ValidationError":
                raise
            raise CliError(f"stack {stack} has no {FUNCTION}: is it a Round Robin for Zendesk stack?") from exc
        function = resource["StackResourceDetail"]["PhysicalResourceId"]
        configuration = make_client("lambda").get_function_configuration(FunctionName=function)
    except (BotoCoreError, ClientError) as exc:
        raise aws_error(exc, f"reading stack {stack}") from exc
    environment = dict(configuration.get("Environment", {}).get("Variables", {}))
    if not environment.get("PUBLIC_BASE_URL"):
        outputs = described.get("Outputs", [])
        environment["PUBLIC_BASE_URL"] = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl"), "")
    return environment


def aws_error(exc: BotoCoreError | ClientError, action: str) -> CliError:
    """botocore's failure, as one line saying what to do (codes, never message text, decide)."""
    if isinstance(exc, NoRegionError):
        return CliError("no AWS region: set AWS_DEFAULT_REGION to the stack's region (or give your AWS profile "
                        "a region)")
    if isinstance(exc, NoCredentialsError):
        return CliError("no AWS credentials: sign in (aws configure, aws sso login, or AWS_PROFILE) and try again")
    if isinstance(exc, EndpointConnectionError):
        return CliError(f"AWS could not be reached while {action}: check the network and the region")
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in _EXPIRED:
            return CliError("your AWS credentials have expired: sign in again")
        if code in _REFUSED:
            return CliError(f"AWS refused {action} ({code}): check your credentials and their permissions")
        return CliError(f"AWS refused {action}: {code}")
    return CliError(f"{action} failed: {exc}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
