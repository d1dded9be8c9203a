"""The command line's shape: global flags on every command, each command only its own."""

from __future__ import annotations

import pytest

from tui.cli import build_fix_parser, build_parser, main, overrides_from_args


def test_top_level_help_names_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "fix PLAN_ID" in out and "--once" in out and "where to look" in out


def test_fix_takes_the_global_flags_and_its_own_only(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_fix_parser().parse_args(
        ["p-1", "--profile", "a", "--region", "eu-west-1", "--yes", "--set", "bucket=b"]
    )
    assert (args.plan_id, args.profile, args.region, args.yes, args.set) == (
        "p-1",
        ["a"],
        ["eu-west-1"],
        True,
        ["bucket=b"],
    )
    for foreign in (["--once"], ["--format", "json"], ["--bell"], ["--interval", "5"]):
        with pytest.raises(SystemExit) as e:
            build_fix_parser().parse_args(["p-1", *foreign])
        assert e.value.code == 2
        assert "unrecognized arguments" in capsys.readouterr().err


def test_format_without_once_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--format", "json"])
    assert e.value.code == 2
    assert "--format applies to --once" in capsys.readouterr().err


def test_monitor_flags_are_not_fix_flags() -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--yes"])
    assert e.value.code == 2


def test_help_version_and_short_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    usage = out.split("\n\n")[0]
    assert "trailtop fix PLAN_ID" in usage and "--once" in usage  # `fix` is in the first lines
    for flag in (["-V"], ["--version"]):
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args(flag)
        assert e.value.code == 0
        assert capsys.readouterr().out.startswith("trailtop ")
    assert build_parser().parse_args(["--once", "-o", "json"]).format == "json"


def test_region_flags_split_on_commas() -> None:
    args = build_parser().parse_args(["--region", "eu-west-1,us-east-1", "--region", " ap-south-1"])
    assert overrides_from_args(args)["aws"]["regions"] == ["eu-west-1", "us-east-1", "ap-south-1"]
