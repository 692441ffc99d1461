"""schedule / history / changes: crontab and systemd written through fakes in tmp, runs listed.

The real user crontab and systemd are never touched: a fake ``crontab`` script on PATH keeps
its table in a tmp file, a fake ``systemctl`` records its calls, units go to a tmp folder.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from corpus import Document, Store
from search_cli.commands.refresh import parse_every, parse_since, unit_name

FAKE_CRONTAB = """#!/bin/sh
# A stand-in for crontab(1): the table lives in $FAKE_CRONTAB_FILE.
if [ "$1" = "-l" ]; then
  if [ -f "$FAKE_CRONTAB_FILE" ]; then cat "$FAKE_CRONTAB_FILE"; exit 0; fi
  echo "no crontab for $(id -un)" >&2; exit 1
fi
if [ "$1" = "-" ]; then cat > "$FAKE_CRONTAB_FILE"; exit 0; fi
echo "fake crontab: unexpected $*" >&2; exit 2
"""

FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
"""


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "crontab", FAKE_CRONTAB)
    _script(bin_dir / "systemctl", FAKE_SYSTEMCTL)
    paths = {"crontab": tmp_path / "crontab.txt", "systemctl_log": tmp_path / "systemctl.log",
             "units": tmp_path / "units"}
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(paths["crontab"]))
    monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(paths["systemctl_log"]))
    monkeypatch.setenv("AESTHETICS_SYSTEMD_USER_DIR", str(paths["units"]))
    monkeypatch.delenv("AESTHETICS_CRONTAB", raising=False)
    monkeypatch.delenv("AESTHETICS_SYSTEMCTL", raising=False)
    return paths


def test_print_shows_cron_line_and_systemd_pair(cli, data_dir: Path, fakes) -> None:
    result = cli("--data-dir", str(data_dir), "schedule", "--every", "6h", "--print")
    assert result.exit_code == 0, result.output
    resolved = data_dir.resolve()
    lines = result.output.splitlines()
    job = next(line for line in lines if line.startswith("17 */6 * * * "))
    assert f"--data-dir {resolved} refresh" in job
    assert job.endswith(f">> {resolved / 'refresh.log'} 2>&1")
    assert "OnUnitActiveSec=6h" in result.output
    assert f"StandardOutput=append:{resolved / 'refresh.log'}" in result.output
    assert f"{unit_name(resolved)}.service" in result.output
    assert not fakes["crontab"].exists() and not fakes["units"].exists()  # print changes nothing


def test_print_json(cli, data_dir: Path, fakes) -> None:
    result = cli("--data-dir", str(data_dir), "schedule", "--every", "1d", "--format", "json")
    data = json.loads(result.output)
    assert data["cron"].splitlines()[1].startswith("17 3 * * * ")
    timer = data["systemd"][f"{unit_name(data_dir.resolve())}.timer"]
    assert "OnUnitActiveSec=1d" in timer and "WantedBy=timers.target" in timer


def test_cron_install_refuses_overwrite_then_force_then_remove(cli, data_dir: Path,
                                                               fakes) -> None:
    fakes["crontab"].write_text("MAILTO=editor@example.org\n5 4 * * * backup.sh\n")
    args = ("--data-dir", str(data_dir), "schedule")
    assert cli(*args, "--every", "6h", "--install", "cron").exit_code == 0
    table = fakes["crontab"].read_text()
    assert table.startswith("MAILTO=editor@example.org\n5 4 * * * backup.sh\n")
    assert table.count("aesthetics-search refresh for") == 1
    assert "17 */6 * * *" in table

    again = cli(*args, "--every", "12h", "--install", "cron")
    assert again.exit_code == 2
    assert "already has a refresh entry" in again.output
    assert fakes["crontab"].read_text() == table  # nothing was overwritten

    forced = cli(*args, "--every", "12h", "--install", "cron", "--force")
    assert forced.exit_code == 0
    table = fakes["crontab"].read_text()
    assert "17 */12 * * *" in table and "*/6" not in table
    assert table.count("aesthetics-search refresh for") == 1

    assert cli(*args, "--remove", "cron").exit_code == 0
    assert fakes["crontab"].read_text() == "MAILTO=editor@example.org\n5 4 * * * backup.sh\n"


def test_cron_install_into_empty_crontab_keeps_other_data_dirs(cli, tmp_path: Path,
                                                               fakes) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli("--data-dir", str(one), "schedule", "--install", "cron").exit_code == 0
    assert cli("--data-dir", str(two), "schedule", "--install", "cron").exit_code == 0
    assert cli("--data-dir", str(one), "schedule", "--remove", "cron").exit_code == 0
    table = fakes["crontab"].read_text()
    assert str(two.resolve()) in table and f"for {one.resolve()}\n" not in table


def test_systemd_install_refuses_overwrite_and_remove(cli, data_dir: Path, fakes) -> None:
    args = ("--data-dir", str(data_dir), "schedule")
    assert cli(*args, "--every", "30m", "--install", "systemd").exit_code == 0
    name = unit_name(data_dir.resolve())
    timer = fakes["units"] / f"{name}.timer"
    service = fakes["units"] / f"{name}.service"
    assert "OnUnitActiveSec=30min" in timer.read_text()
    assert "ExecStart=" in service.read_text() and " refresh" in service.read_text()
    calls = fakes["systemctl_log"].read_text().splitlines()
    assert calls == ["--user daemon-reload", f"--user enable --now {name}.timer"]

    refused = cli(*args, "--every", "1h", "--install", "systemd")
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert "OnUnitActiveSec=30min" in timer.read_text()
    assert cli(*args, "--every", "1h", "--install", "systemd", "--force").exit_code == 0
    assert "OnUnitActiveSec=1h" in timer.read_text()

    assert cli(*args, "--remove", "systemd").exit_code == 0
    assert not timer.exists() and not service.exists()
    assert f"--user disable --now {name}.timer" in fakes["systemctl_log"].read_text()


def test_bad_interval_and_flag_mix_are_usage_errors(cli, data_dir: Path, fakes) -> None:
    bad = cli("--data-dir", str(data_dir), "schedule", "--every", "7h")
    assert bad.exit_code == 2 and "evenly" in bad.output
    assert cli("--data-dir", str(data_dir), "schedule", "--every", "often").exit_code == 2
    mixed = cli("--data-dir", str(data_dir), "schedule", "--install", "cron", "--remove", "cron")
    assert mixed.exit_code == 2
    assert parse_every("60m") == (1, "h") and parse_every("24h") == (1, "d")


def test_parse_since() -> None:
    assert parse_since("2026-11-25") == "2026-11-25"
    assert parse_since("2026-11-25T08:00+02:00") == "2026-11-25T06:00:00+00:00"
    assert parse_since("2026-11-25T08:00") == "2026-11-25T08:00:00+00:00"
    assert parse_since("6h") < parse_since("1h")


def test_history_and_changes(cli, data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        run = store.start_run("crawl", {"seeds": ["http://s.test/"]})
        run.counts = {"pages": 3}
        store.finish_run(run)
        store.save_document(Document(id="a", url="http://s.test/a", text="first words"),
                            when="2026-01-01T00:00:00+00:00")
        store.save_document(Document(id="b", url="http://s.test/b", text="kept"),
                            when="2026-01-01T00:00:00+00:00")
        store.save_document(Document(id="a", url="http://s.test/a", text="second words"),
                            when="2026-02-01T00:00:00+00:00")
        store.save_document(Document(id="c", url="http://s.test/c", text="brand new"),
                            when="2026-02-02T00:00:00+00:00")
        store.tombstone("b", when="2026-02-03T00:00:00+00:00")
    hist = json.loads(cli("--data-dir", str(data_dir), "history", "--format", "json").output)
    assert [(r["kind"], r["outcome"], r["counts"]) for r in hist] == [("crawl", "ok", {"pages": 3})]
    table = cli("--data-dir", str(data_dir), "history").output
    assert "pages=3" in table
    assert json.loads(cli("--data-dir", str(data_dir), "history", "--since", "2000-01-01",
                          "--kind", "refresh", "--format", "json").output) == []

    result = cli("--data-dir", str(data_dir), "changes", "--since", "2026-01-15", "--format", "json")
    rows = json.loads(result.output)
    assert [(r["change"], r["url"]) for r in rows] == [
        ("changed", "http://s.test/a"), ("new", "http://s.test/c"), ("deleted", "http://s.test/b")]
    assert cli("--data-dir", str(data_dir), "changes", "--since", "yesterday-ish").exit_code == 2


def test_history_without_corpus_is_nothing_yet(cli, data_dir: Path) -> None:
    result = cli("--data-dir", str(data_dir), "history")
    assert result.exit_code == 3
    assert not data_dir.exists()


@pytest.mark.parametrize("command", ["refresh", "schedule", "history", "changes"])
def test_help_has_example(cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example" in result.output
