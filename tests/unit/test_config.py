"""One config module: every setting from the environment, typed, checked, with defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from fanout.config import AtMost, ConfigError, Settings, env_names, get_settings, load_settings


def test_no_environment_gives_the_defaults() -> None:
    assert load_settings({}) == Settings()


def test_a_mapping_is_read_instead_of_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANOUT_MAX_URLS", "7")
    assert load_settings({}).max_urls == Settings().max_urls
    assert load_settings().max_urls == 7


def test_every_setting_has_its_own_environment_variable() -> None:
    names = env_names()
    assert set(names) == set(Settings.model_fields)
    assert len(set(names.values())) == len(names)
    assert all(var == var.upper() and " " not in var for var in names.values())


def test_values_are_parsed_to_the_settings_types() -> None:
    settings = load_settings(
        {
            "FANOUT_MAX_URLS": "5000",
            "FANOUT_MAX_CONCURRENCY": " 800 ",
            "FANOUT_DEFAULT_REQUEST_TIMEOUT_S": "2.5",
            "FANOUT_DEADLINE_MARGIN_BASE_MS": "400",
            "FANOUT_HTTP_TRANSPORT": "httpcore",
            "FANOUT_USER_AGENT": "probe/2",
        }
    )
    assert settings.max_urls == 5000
    assert settings.max_concurrency == 800
    assert settings.default_request_timeout_s == 2.5
    assert settings.deadline_margin_base_ms == 400.0
    assert isinstance(settings.deadline_margin_base_ms, float)
    assert settings.http_transport == "httpcore"
    assert settings.user_agent == "probe/2"


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_values_mean_the_default(raw: str) -> None:
    assert load_settings({"FANOUT_MAX_URLS": raw, "FANOUT_HTTP_TRANSPORT": raw}) == Settings()


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("FANOUT_MAX_URLS", "many"),
        ("FANOUT_MAX_URLS", "1e3"),
        ("FANOUT_DEFAULT_CONCURRENCY", "8.5"),
        ("FANOUT_DEFAULT_REQUEST_TIMEOUT_S", "ten"),
    ],
)
def test_unparseable_values_name_their_variable(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_settings({var: raw})


@pytest.mark.parametrize(
    "env",
    [
        {"FANOUT_DEFAULT_CONCURRENCY": "2000", "FANOUT_MAX_CONCURRENCY": "1000"},
        {"FANOUT_DEFAULT_PER_HOST_CONCURRENCY": "300"},
        {"FANOUT_DEFAULT_REQUEST_TIMEOUT_S": "301"},
        {"FANOUT_DEFAULT_RETRIES": "11"},
        {"FANOUT_DEFAULT_MAX_REDIRECTS": "21"},
        {"FANOUT_MAX_MAX_BODY_BYTES": "10", "FANOUT_DEFAULT_MAX_BODY_BYTES": "11"},
        {"FANOUT_MAX_URLS": "0"},
        {"FANOUT_MAX_CONCURRENCY": "0", "FANOUT_DEFAULT_CONCURRENCY": "0"},
        {"FANOUT_MAX_HEADER_BYTES": "0"},
        {"FANOUT_HTTP_TRANSPORT": "urllib3"},
    ],
)
def test_inconsistent_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


# A default below its minimum, or a non-finite or negative duration, would break every
# run that relies on it (concurrency 0 makes the engine raise; a NaN or 0 s timeout
# times every URL out at once): refused at start-up.
@pytest.mark.parametrize(
    "env",
    [
        {"FANOUT_DEFAULT_CONCURRENCY": "0"},
        {"FANOUT_DEFAULT_PER_HOST_CONCURRENCY": "0"},
        {"FANOUT_DEFAULT_REQUEST_TIMEOUT_S": "0"},
        {"FANOUT_DEFAULT_REQUEST_TIMEOUT_S": "nan"},
        {"FANOUT_DEFAULT_RETRIES": "-1"},
        {"FANOUT_DEADLINE_MARGIN_BASE_MS": "-100"},
        {"FANOUT_DEADLINE_MARGIN_BASE_MS": "nan"},
        {"FANOUT_RETRY_BACKOFF_BASE_S": "inf"},
    ],
)
def test_defaults_below_their_minimum_and_bad_durations_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env)


def test_defaults_are_generous_enough_for_real_fan_outs() -> None:
    s = Settings()
    assert s.max_concurrency >= 500
    assert s.max_request_timeout_s >= 60
    assert s.max_urls >= 2_000
    assert s.default_concurrency <= s.max_concurrency
    assert s.default_request_timeout_s <= s.max_request_timeout_s
    assert s.http_transport == "aiohttp"


# -- one model: every variable declared once, with its type, default, bounds and meaning ----------


def test_every_setting_says_what_it_is_for() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_every_number_has_a_lower_bound() -> None:
    unbounded = [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation in (int, float)
        and not any(hasattr(m, "ge") or hasattr(m, "gt") for m in field.metadata)
    ]
    assert unbounded == []


def test_every_default_names_an_existing_maximum_of_its_type() -> None:
    fields = Settings.model_fields
    pairs = [(name, m.field) for name, f in fields.items() for m in f.metadata if isinstance(m, AtMost)]
    assert len(pairs) == 8
    for default, maximum in pairs:
        assert fields[maximum].annotation is fields[default].annotation, (default, maximum)
        assert default.startswith("default_")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FANOUT_MAX_URLS": "0"}, "FANOUT_MAX_URLS: must be >= 1 (got '0')"),
        ({"FANOUT_MAX_URLS": "many"}, "FANOUT_MAX_URLS: must be a whole number (got 'many')"),
        (
            {"FANOUT_DEFAULT_REQUEST_TIMEOUT_S": "0"},
            "FANOUT_DEFAULT_REQUEST_TIMEOUT_S: must be > 0 (got '0')",
        ),
        (
            {"FANOUT_RETRY_BACKOFF_BASE_S": "inf"},
            "FANOUT_RETRY_BACKOFF_BASE_S: must be a finite number (got 'inf')",
        ),
        (
            {"FANOUT_REPORT_URL_EXPIRES_S": "604801"},
            "FANOUT_REPORT_URL_EXPIRES_S: must be <= 604800 (got '604801')",
        ),
        ({"FANOUT_EVENT_LOOP": "trio"}, "FANOUT_EVENT_LOOP: must be 'uvloop' or 'asyncio' (got 'trio')"),
        (
            {"FANOUT_DEFAULT_RUNS_LIMIT": "101"},
            "FANOUT_DEFAULT_RUNS_LIMIT: must be <= FANOUT_MAX_RUNS_LIMIT (100) (got '101')",
        ),
        (
            {"FANOUT_DEFAULT_CONCURRENCY": "20", "FANOUT_MAX_CONCURRENCY": "10"},
            "FANOUT_DEFAULT_CONCURRENCY: must be <= FANOUT_MAX_CONCURRENCY (10) (got '20')",
        ),
        (
            {"FANOUT_CA_BUNDLE": "/no/such/ca.pem"},
            "FANOUT_CA_BUNDLE: must name an existing file (got '/no/such/ca.pem')",
        ),
        (
            {"EGRESS_ALLOW_CIDRS": "10.0.0.1/8"},
            "EGRESS_ALLOW_CIDRS: '10.0.0.1/8' is not a valid CIDR network",
        ),
    ],
)
def test_a_bad_value_names_its_variable_and_the_rule(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    "env",
    [
        {"FANOUT_MAX_ANSWER_BYTES": "9999"},
        {"FANOUT_IDEMPOTENCY_MAX_ANSWER_BYTES": "9999"},
        {"FANOUT_SHARD_MESSAGE_MAX_BYTES": "262145"},
        {"FANOUT_SHARD_MESSAGE_MAX_BYTES": "9999"},
        {"FANOUT_SHARD_MAX_GENERATIONS": "101"},
        {"FANOUT_SHARD_FINISH_BUDGET_S": "0"},
        {"FANOUT_STORE_MAX_ATTEMPTS": "0"},
        {"FANOUT_PERSIST_BUDGET_S": "-1"},
        {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "-1"},
        {"FANOUT_MONITOR_CONCURRENCY": "0"},
        {"FANOUT_DEFAULT_INSPECT_BYTES": "2000000"},
    ],
)
def test_the_stores_shards_and_monitors_bounds_hold(env: dict[str, str]) -> None:
    (var,) = env
    with pytest.raises(ConfigError, match=f"^{var}: "):
        load_settings(env)


def test_a_default_equal_to_its_maximum_and_an_existing_ca_bundle_are_accepted(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        {"FANOUT_DEFAULT_RETRIES": "10", "FANOUT_MAX_RETRIES": "10", "FANOUT_CA_BUNDLE": str(bundle)}
    )
    assert (settings.default_retries, settings.ca_bundle) == (10, str(bundle))


def test_settings_are_frozen_and_made_by_field_name_too() -> None:
    settings = Settings(max_urls=3)
    assert settings.max_urls == 3
    with pytest.raises(ValueError, match="frozen"):
        settings.max_urls = 4  # type: ignore[misc]
    assert hash(settings) == hash(Settings(max_urls=3))  # the egress policy is cached per settings


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        Settings(max_url=3)  # type: ignore[call-arg]


def test_variables_outside_the_model_are_ignored() -> None:
    assert load_settings({"FANOUT_NO_SUCH_SETTING": "1", "PATH": "/bin"}) == Settings()


def test_the_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fanout.config._current", None)
    monkeypatch.setenv("FANOUT_MAX_URLS", "7")
    first = get_settings()
    monkeypatch.setenv("FANOUT_MAX_URLS", "8")
    assert get_settings() is first
    assert first.max_urls == 7
