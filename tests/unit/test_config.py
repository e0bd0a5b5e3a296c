"""One config module: every setting from the environment, typed, checked, with defaults."""

from __future__ import annotations

import dataclasses

import pytest

from fanout.config import ConfigError, Settings, env_names, load_settings


def test_no_environment_gives_the_defaults() -> None:
    assert load_settings({}) == Settings()


def test_a_mapping_is_read_instead_of_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANOUT_MAX_URLS", "7")
    assert load_settings({}).max_urls == Settings().max_urls
    assert load_settings().max_urls == 7


def test_every_setting_has_its_own_environment_variable() -> None:
    names = env_names()
    assert set(names) == {f.name for f in dataclasses.fields(Settings)}
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
