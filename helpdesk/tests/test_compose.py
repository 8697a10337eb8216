"""The production deployment files: docker-compose.yml, the Dockerfile and requirements-gpu.txt.

No Docker is needed: the files are read and checked against what helpdesk/settings/ expects.
"""

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SETTINGS_SOURCE = "\n".join(
    path.read_text() for path in sorted((ROOT / "helpdesk" / "settings").glob("*.py"))
)

# What a production .env must provide; everything else in the compose file has a default.
SECRETS = {
    "POSTGRES_PASSWORD": "pw",
    "REDIS_PASSWORD": "rp",
    "SECRET_KEY": "sk",
    "VLLM_API_KEY": "vk",
    "HF_TOKEN": "hf",
    "TLS_CERT_DIR": "/etc/helpdesk/tls",
}

# The external services every app container needs, as the settings name them.
SERVICE_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "EMBEDDING_MODEL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
}
APP_SERVICES = ["web", "worker", "beat"]


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict[str, str]):
    """Substitute ${NAME}, ${NAME:-default} and ${NAME:?error} the way Compose does."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        missing = current is None or (current == "" and operator.startswith(":"))
        if not missing:
            return current
        if operator.endswith("-"):
            return argument
        if operator.endswith("?"):
            raise MissingVariable(f"{name}: {argument}")
        return ""

    return re.sub(r"\$\$|\$\{(\w+)(:?[-?]|)([^}]*)\}", substitute, value)


def load_compose(env: dict[str, str] | None = None) -> dict:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return interpolate(raw, SECRETS if env is None else env)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def command_args(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(arg) for arg in command]


def depends_on(service: dict) -> dict[str, str]:
    """{dependency: condition}, whichever of Compose's two spellings the service uses."""
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def names_settings_reads() -> set[str]:
    """Every environment variable the settings read: os.environ.get("X"), envint("X"), ..."""
    calls = re.findall(
        r'(?:os\.environ\.get|env(?:bool|int|float|list|rate|required))\(\s*"([A-Z][A-Z0-9_]*)"',
        SETTINGS_SOURCE,
    )
    subscripts = re.findall(r'os\.environ\["([A-Z][A-Z0-9_]*)"\]', SETTINGS_SOURCE)
    return set(calls) | set(subscripts)


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        instructions.append(current + stripped)
        current = ""
    if current:
        instructions.append(current)
    return instructions


def requirement_names(filename: str) -> set[str]:
    names = set()
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.match(r"[A-Za-z0-9._-]+", line).group(0).lower())
    return names


def test_it_defines_the_production_services(services):
    expected = {"proxy", "postgres", "redis", "redis-broker", "vllm", "web", "worker", "beat"}
    assert expected <= set(services)


def test_beat_schedules_the_periodic_tasks(services):
    # Without it neither review sampling nor retention ever runs.
    assert command_args(services["beat"])[:4] == ["celery", "-A", "helpdesk", "beat"]
    assert depends_on(services["beat"])["redis-broker"] == "service_healthy"


def test_postgres_is_the_pgvector_image(services):
    assert services["postgres"]["image"].startswith("pgvector/pgvector")


def test_vllm_serves_llama_3_1_8b_instruct(services):
    vllm = services["vllm"]
    assert vllm["image"].startswith("vllm/vllm-openai")
    assert "meta-llama/Llama-3.1-8B-Instruct" in command_args(vllm)


def test_vllm_serves_the_model_under_the_name_the_app_asks_for(services):
    args = command_args(services["vllm"])
    served_name = args[args.index("--served-model-name") + 1]
    for name in APP_SERVICES:
        assert environment(services[name])["LLM_MODEL"] == served_name


def test_the_prompt_budget_is_the_context_vllm_serves(services):
    # The app cuts history and context to LLM_CONTEXT_TOKENS (chat/prompts.py); larger than
    # vLLM's window, long conversations would get "context too long" instead of answers.
    args = command_args(services["vllm"])
    for name in APP_SERVICES:
        env = environment(services[name])
        assert env["LLM_CONTEXT_TOKENS"] == args[args.index("--max-model-len") + 1]


def test_superusers_must_use_a_second_factor_in_production(services):
    for name in APP_SERVICES:
        assert environment(services[name])["ADMIN_REQUIRE_2FA"] == "1"


@pytest.mark.parametrize(("name", "gpu"), [("vllm", "0"), ("vllm-2", "1")])
def test_each_vllm_replica_reserves_a_gpu_of_its_own(services, name, gpu):
    [device] = services[name]["deploy"]["resources"]["reservations"]["devices"]
    assert "gpu" in device["capabilities"]
    assert device["device_ids"] == [gpu]


def test_the_replicas_differ_only_in_their_gpu_and_profile(services):
    first, second = services["vllm"], services["vllm-2"]
    assert {k: v for k, v in first.items() if k != "deploy"} == {
        k: v for k, v in second.items() if k not in ("deploy", "profiles")
    }
    assert second["profiles"] == ["scale"]


NGINX = (ROOT / "deploy" / "nginx-llm.conf").read_text()


def test_the_balancer_mounts_the_nginx_config(services):
    assert services["llm-lb"]["image"].startswith("nginx:")
    assert "./deploy/nginx-llm.conf:/etc/nginx/nginx.conf:ro" in services["llm-lb"]["volumes"]


def test_the_balancer_sends_each_request_to_the_least_busy_replica():
    upstream = re.search(r"upstream vllm \{(.*?)\}", NGINX, re.DOTALL).group(1)
    assert "least_conn;" in upstream
    servers = re.findall(r"^\s*server (\S+) (.*);", upstream, re.MULTILINE)
    assert [host for host, _ in servers] == ["vllm:8000", "vllm-2:8000"]
    for _, options in servers:
        assert "max_fails=" in options and "fail_timeout=" in options  # passive checks
        assert "resolve" in options.split()  # a replica not started does not stop nginx


def test_every_replica_in_compose_is_in_the_upstream_and_back(services):
    replicas = {name for name, s in services.items() if s.get("image", "").startswith("vllm/")}
    in_upstream = set(re.findall(r"^\s*server ([\w-]+):8000", NGINX, re.MULTILINE))
    assert replicas == in_upstream


def test_the_balancer_streams_tokens_unbuffered_and_listens_where_the_app_calls():
    assert "proxy_buffering off;" in NGINX
    assert "listen 8080;" in NGINX
    assert "proxy_pass http://vllm;" in NGINX


def test_the_balancer_is_healthy_only_when_a_replica_is(services):
    check = " ".join(services["llm-lb"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/health" in check
    assert depends_on(services["llm-lb"]) == {"vllm": "service_healthy"}


def test_the_vllm_image_is_the_version_requirements_gpu_pins(services):
    pinned = re.search(
        r"^vllm==(\S+)", (ROOT / "requirements-gpu.txt").read_text(), re.MULTILINE
    ).group(1)
    assert services["vllm"]["image"] == f"vllm/vllm-openai:v{pinned}"


def test_every_service_waited_on_until_healthy_has_a_healthcheck(services):
    waited_on = {
        dependency
        for service in services.values()
        for dependency, condition in depends_on(service).items()
        if condition == "service_healthy"
    }
    assert waited_on >= {"postgres", "redis", "redis-broker", "vllm"}
    for name in waited_on:
        assert services[name].get("healthcheck", {}).get("test"), name


@pytest.mark.parametrize(
    ("name", "dependencies"),
    [
        ("web", ["postgres", "redis", "redis-broker"]),
        ("worker", ["postgres", "redis", "redis-broker"]),
    ],
)
def test_the_app_services_wait_until_their_services_are_healthy(services, name, dependencies):
    deps = depends_on(services[name])
    for dependency in dependencies:
        assert deps.get(dependency) == "service_healthy", dependency


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_app_services_start_after_the_migrations_have_run(services, name):
    assert command_args(services["migrate"])[-3:] == ["manage.py", "migrate", "--noinput"]
    assert depends_on(services[name])["migrate"] == "service_completed_successfully"


def test_web_has_a_healthcheck(services):
    assert services["web"]["healthcheck"]["test"]


def test_the_web_healthcheck_asks_the_health_endpoint(services):
    check = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in check


def test_only_the_proxy_publishes_ports(services):
    # A published app port lets a client write its own X-Forwarded-For and -Proto.
    assert {name for name, service in services.items() if "ports" in service} == {"proxy"}
    assert services["proxy"]["ports"] == ["80:80", "443:443"]


def test_web_is_reachable_on_the_compose_network_only(services):
    web = services["web"]
    assert "ports" not in web
    args = command_args(web)
    assert web["expose"] == [args[args.index("-p") + 1]]


def test_the_proxy_mounts_its_config_and_the_operators_certificates(services):
    assert services["proxy"]["image"].startswith("nginx:")
    assert set(services["proxy"]["volumes"]) == {
        "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro",
        f"{SECRETS['TLS_CERT_DIR']}:/etc/nginx/certs:ro",
    }
    assert "/proxy-health" in " ".join(services["proxy"]["healthcheck"]["test"])


def test_web_starts_without_waiting_for_the_llm(services):
    # vLLM can take 30 minutes to be healthy; meanwhile customers get the fallback answer.
    assert not set(depends_on(services["web"])) & {"vllm", "vllm-2", "llm-lb"}


def test_the_vllm_key_is_required_and_the_app_sends_the_one_vllm_checks(services):
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert raw["x-app-env"]["LLM_API_KEY"].startswith("${VLLM_API_KEY:?")
    assert raw["x-vllm"]["environment"]["VLLM_API_KEY"].startswith("${VLLM_API_KEY:?")
    for name in ("vllm", "vllm-2"):
        assert environment(services[name])["VLLM_API_KEY"] == SECRETS["VLLM_API_KEY"]
    for name in APP_SERVICES:
        assert environment(services[name])["LLM_API_KEY"] == SECRETS["VLLM_API_KEY"]


def test_the_balancer_passes_the_apps_key_on_to_vllm():
    # nginx forwards the client's Authorization header unless told otherwise.
    assert not re.search(r"proxy_set_header\s+Authorization", NGINX, re.IGNORECASE)
    assert "proxy_pass_request_headers off" not in NGINX


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_app_services_set_every_service_variable_settings_reads(services, name):
    assert names_settings_reads() >= SERVICE_VARIABLES
    assert set(environment(services[name])) >= SERVICE_VARIABLES


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_app_services_set_only_variables_settings_reads(services, name):
    assert set(environment(services[name])) <= names_settings_reads()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_llm_base_url_names_the_balancer_then_a_replica(services, name):
    urls = environment(services[name])["LLM_BASE_URL"].split(",")
    assert [urlsplit(url).hostname for url in urls] == ["llm-lb", "vllm"]
    assert all(url.endswith("/v1") for url in urls)
    assert urlsplit(urls[0]).port == 8080 and urlsplit(urls[1]).port == 8000


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_database_and_redis_urls_point_at_their_services(services, name):
    env = environment(services[name])
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme in ("postgres", "postgresql")
    assert database.hostname == "postgres"
    assert database.password == SECRETS["POSTGRES_PASSWORD"]
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert urlsplit(env["REDIS_URL"]).password == SECRETS["REDIS_PASSWORD"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_embedding_model_is_a_bge_v1_5_model(services, name):
    model = environment(services[name])["EMBEDDING_MODEL"]
    assert model
    assert model.startswith("BAAI/bge-") and model.endswith("-en-v1.5")


def test_the_image_bakes_in_the_embedding_model_the_app_uses(services):
    for name in APP_SERVICES:
        service = services[name]
        assert (
            service["build"]["args"]["EMBEDDING_MODEL"] == (environment(service)["EMBEDDING_MODEL"])
        )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_production_runs_without_debug_and_with_secure_cookies(services, name):
    env = environment(services[name])
    assert env["DEBUG"].lower() in ("0", "false", "no", "off")
    assert env["SECURE_COOKIES"].lower() in ("1", "true", "yes", "on")


def _size_limits(args: list[str]) -> dict[str, int]:
    flags = ("--websocket-max-message-size", "--websocket-max-frame-size")
    return {flag: int(args[args.index(flag) + 1]) for flag in flags if flag in args}


def _connect_timeout(args: list[str]) -> int | None:
    flag = "--websocket_connect_timeout"
    return int(args[args.index(flag) + 1]) if flag in args else None


def test_daphne_caps_websocket_messages_as_make_run_does(services):
    """The size limits of the production daphne (compose's web and the image's CMD) are the
    ones `make run` passes from WEBSOCKET_MAX_MESSAGE_BYTES."""
    from helpdesk.management.commands.run import daphne_command

    expected = _size_limits(daphne_command("127.0.0.1", 8000))
    assert set(expected.values()) == {settings.WEBSOCKET_MAX_MESSAGE_BYTES}
    assert _size_limits(command_args(services["web"])) == expected
    cmd = next(line for line in dockerfile_instructions() if line.startswith("CMD "))
    assert _size_limits(json.loads(cmd.removeprefix("CMD "))) == expected


def test_daphne_waits_for_a_handshake_as_long_as_make_run_does(services):
    from helpdesk.management.commands.run import daphne_command

    expected = settings.WEBSOCKET_CONNECT_TIMEOUT
    assert _connect_timeout(daphne_command("127.0.0.1", 8000)) == expected
    assert _connect_timeout(command_args(services["web"])) == expected
    cmd = next(line for line in dockerfile_instructions() if line.startswith("CMD "))
    assert _connect_timeout(json.loads(cmd.removeprefix("CMD "))) == expected


def test_daphne_serves_the_warmed_up_application_as_make_run_does(services):
    from helpdesk.management.commands.run import daphne_command

    expected = daphne_command("127.0.0.1", 8000)[-1]
    assert expected == "helpdesk.serve:application"
    assert command_args(services["web"])[-1] == expected
    cmd = next(line for line in dockerfile_instructions() if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD "))[-1] == expected


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_the_celery_services_run_without_a_pool_or_an_embedding_process(services, name):
    from helpdesk.celery import WORKER_ENV

    env = environment(services[name])
    assert {key: env.get(key) for key in WORKER_ENV} == WORKER_ENV
    assert not set(WORKER_ENV) & set(environment(services["web"]))  # on, the default


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(secret):
    without = {name: value for name, value in SECRETS.items() if name != secret}
    with pytest.raises(MissingVariable, match=secret):
        load_compose(without)


def test_the_env_example_lists_every_variable_compose_requires():
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = re.findall(r"^(\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert required == set(SECRETS)
    assert required <= set(example)


def test_the_dockerfile_installs_cpu_torch_before_requirements():
    runs = [line for line in dockerfile_instructions() if line.startswith("RUN ")]
    torch = next(i for i, line in enumerate(runs) if re.search(r"pip install .*torch==", line))
    requirements = next(
        i for i, line in enumerate(runs) if "pip install -r requirements.txt" in line
    )
    assert torch < requirements
    assert "download.pytorch.org/whl/cpu" in runs[torch]


def test_the_dockerfile_never_installs_vllm_or_the_embedded_services():
    instructions = "\n".join(dockerfile_instructions())
    assert "vllm" not in instructions.lower()
    assert "requirements-embedded" not in instructions
    assert "requirements-dev" not in instructions


def test_the_dockerfile_runs_as_a_non_root_user():
    users = [line.split()[1] for line in dockerfile_instructions() if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")


def test_vllm_is_only_in_requirements_gpu():
    assert "vllm" not in requirement_names("requirements.txt")
    assert "vllm" in requirement_names("requirements-gpu.txt")


def test_the_docker_build_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", "staticfiles", ".env"} <= ignored
