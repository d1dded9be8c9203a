"""Settings: precedence file < env < flags, and clear refusals (exit 2, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("TRAILTOP_"):
            monkeypatch.delenv(k)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_example_config_documents_every_key_and_loads(clean_env: None) -> None:
    from core.settings import Settings

    settings, _ = load_settings(str(ROOT / "config.example.toml"))
    assert settings == Settings()  # every key shown with its default
    text = (ROOT / "config.example.toml").read_text()

    def keys(model: object, prefix: str = "") -> list[str]:
        out = []
        for name, _field in type(model).model_fields.items():  # type: ignore[attr-defined]
            value = getattr(model, name)
            if hasattr(type(value), "model_fields"):
                out += keys(value, f"{prefix}{name}.")
            else:
                out.append(f"{prefix}{name}")
        return out

    for dotted in keys(Settings()):
        name = dotted.rsplit(".", 1)[-1]
        assert f"{name} =" in text or f"[[{dotted}]]" in text, dotted
    for nested in ("role_arn", "external_id", "session_name"):
        assert nested in text


def test_precedence_file_then_env_then_flags(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(
        tmp_path, "[poll]\ninterval_seconds = 30\nconcurrency = 4\n[aws]\nprofiles = ['a']\n"
    )
    s, _ = load_settings(str(cfg))
    assert (s.poll.interval_seconds, s.poll.concurrency, s.aws.profiles) == (30, 4, ["a"])
    monkeypatch.setenv("TRAILTOP_POLL__INTERVAL_SECONDS", "45")
    s, _ = load_settings(str(cfg))
    assert (s.poll.interval_seconds, s.poll.concurrency) == (45, 4)
    s, _ = load_settings(str(cfg), {"poll": {"interval_seconds": 7}, "aws": {"profiles": ["b"]}})
    assert (s.poll.interval_seconds, s.poll.concurrency, s.aws.profiles) == (7, 4, ["b"])


def test_config_found_through_env_variable(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path, "[thresholds]\ns3_stale_seconds = 120\n")
    monkeypatch.setenv("TRAILTOP_CONFIG", str(cfg))
    s, path = load_settings(None)
    assert path == cfg and s.thresholds.s3_stale_seconds == 120


def test_threshold_defaults_are_the_judges_defaults(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine builds the judge's thresholds from these settings: same defaults, same names.
    from core.judge.evaluate import Thresholds as JudgeThresholds
    from core.settings import Thresholds

    assert Thresholds().model_dump() == vars(JudgeThresholds())
    cfg = write(tmp_path, "[thresholds]\ndigest_stale_seconds = 7200\n")
    s, _ = load_settings(str(cfg))
    assert s.thresholds.digest_stale_seconds == 7200
    monkeypatch.setenv("TRAILTOP_THRESHOLDS__DIGEST_STALE_SECONDS", "4000")
    assert load_settings(str(cfg))[0].thresholds.digest_stale_seconds == 4000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[poll]\ninterval_seconds = \n", ["line 2", "malformed TOML"]),
        ("[poll]\nintervall = 3\n", ["line 2", "unknown key 'poll.intervall'"]),
        ("[aws]\nprofiles = 'prod'\n", ["line 2", "'aws.profiles'", "list"]),
        ("[poll]\nconcurrency = 'x'\n", ["'poll.concurrency'", "integer"]),
        ("[poll]\ninterval_seconds = -5\n", ["'poll.interval_seconds'", "greater than"]),
        ("[poll]\nconcurrency = 0\n", ["'poll.concurrency'", "greater than"]),
        ("[poll]\nconcurrency = 1000000000\n", ["'poll.concurrency'", "less than"]),
        ("[aws]\nregions = ['mars']\n", ["'aws.regions'", "region"]),
        ("[[aws.assume_roles]]\nrole_arn = 'nope'\n", ["aws.assume_roles.role_arn"]),
        ("[nonsense]\nx = 1\n", ["unknown key 'nonsense'"]),
        ("[thresholds]\ndigest_stale_seconds = 0\n", ["'thresholds.digest_stale_seconds'"]),
        ("[thresholds]\ndigest_stale = 5400\n", ["unknown key 'thresholds.digest_stale'"]),
    ],
)
def test_bad_config_is_refused_with_the_key(
    tmp_path: Path, clean_env: None, text: str, expected: list[str]
) -> None:
    cfg = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg))
    msg = str(e.value)
    assert str(cfg) in msg
    for part in expected:
        assert part in msg


def test_missing_explicit_config_is_an_error(tmp_path: Path, clean_env: None) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(str(tmp_path / "nope.toml"))


def test_bad_env_value_names_the_key(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRAILTOP_POLL__CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="poll.concurrency"):
        load_settings(str(write(tmp_path, "")))


@pytest.mark.parametrize(
    "text",
    ["[poll]\ninterval_seconds = \n", "[poll]\nintervall = 3\n", "[poll]\nconcurrency = 'x'\n"],
)
def test_cli_exits_2_with_one_message_and_no_traceback(tmp_path: Path, text: str) -> None:
    cfg = write(tmp_path, text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAILTOP_")}
    r = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--once"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert str(cfg) in r.stderr
    assert r.stdout == ""


def test_cli_usage_error_exits_2(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--format", "yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a,b", ["a", "b"]), (" a , b ,", ["a", "b"]), ('["a", "b,c"]', ["a", "b,c"]), ("", [])],
)
def test_env_lists_are_comma_lists_or_json(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("TRAILTOP_AWS__PROFILES", value)
    settings, _ = load_settings(None)
    assert settings.aws.profiles == expected


def test_env_sections_tables_and_case(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    role = "arn:aws:iam::111111111111:role/TrailtopReadOnly"
    monkeypatch.setenv("TRAILTOP_AWS__ASSUME_ROLES", f'[{{"role_arn": "{role}"}}]')
    monkeypatch.setenv("TRAILTOP_POLL", '{"concurrency": 5}')
    monkeypatch.setenv("trailtop_ui__bell", "true")
    settings, _ = load_settings(None, {"poll": {"interval_seconds": 9}})
    assert [r.role_arn for r in settings.aws.assume_roles] == [role]
    assert (settings.poll.concurrency, settings.poll.interval_seconds) == (5, 9)
    assert settings.ui.bell is True


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TRAILTOP_AWS__ASSUME_ROLES", "arn:aws:iam::1:role/x", "a JSON list of tables"),
        ("TRAILTOP_POLL", "concurrency=5", "a JSON object"),
        ("TRAILTOP_AWS__REGIONS", "eu-west-1;us-east-1", "one region per list item"),
        ("TRAILTOP_POLL__INTERVAL_SECONDS__X", "1", "unknown variable"),
        ("TRAILTOP_AWSS__PROFILES", "a", "did you mean TRAILTOP_AWS__PROFILES?"),
    ],
)
def test_env_errors_name_the_variable(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as e:
        load_settings(None)
    assert str(e.value).startswith(name) and expected in str(e.value)


def test_flag_errors_name_the_flag(clean_env: None) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(None, {"poll": {"concurrency": 0}})
    assert str(e.value).startswith("--concurrency: key 'poll.concurrency'")


def test_regions_a_typo_is_refused_a_new_region_of_a_known_area_is_not(clean_env: None) -> None:
    from core.settings import Settings, check_aws_names, known_regions

    assert "eu-west-1" in known_regions() and "cn-north-1" in known_regions()
    ok = Settings(aws={"regions": ["eu-west-1", "ap-southeast-9", "eusc-de-east-1"]})
    check_aws_names(ok, environ={})
    typo = Settings(aws={"regions": ["eu-west-1", "us-esat-1"]})
    with pytest.raises(ConfigError) as e:
        check_aws_names(typo, environ={}, sources={"aws.regions": "--region"})
    assert "region 'us-esat-1' (from --region)" in str(e.value) and "us-east-1" in str(e.value)


def test_remediation_profile_is_checked_too(clean_env: None, tmp_path: Path) -> None:
    from core.settings import Settings, check_aws_names

    (tmp_path / "config").write_text("[profile audit]\nregion = eu-west-1\n")
    env = {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": "/none"}
    check_aws_names(Settings(aws={"profiles": ["audit"]}), environ=env)
    writes = Settings(aws={"profiles": ["audit"]}, remediation={"profile": "writer"})
    with pytest.raises(ConfigError) as e:
        check_aws_names(writes, environ=env)
    assert "profile 'writer' (from remediation.profile)" in str(e.value)
    assert "Known profiles: audit" in str(e.value)
