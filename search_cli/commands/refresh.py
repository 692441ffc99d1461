"""refresh / schedule / history / changes: keeping the corpus current and showing what moved.

``refresh`` is the daily job: it takes the same data-dir lock as ``crawl`` (so the two never
overlap), lets ``crawler.refresh`` revisit every known source with conditional requests, turns
fetched pages into documents, tombstones what is gone and updates the index at the end.
``schedule`` writes that job into cron or a systemd user timer; the crontab command and the
systemd directory can be pointed elsewhere so tests never touch the real ones.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from corpus import Store
from corpus.errors import BadInputError, StorageError
from search_cli.options import app, data_dir_option, format_option
from search_cli.output import emit, emit_object, info, progress
from search_cli.steps import DocumentStep, index_step

CRONTAB_ENV = "AESTHETICS_CRONTAB"  # the crontab program (tests point it at a fake)
SYSTEMD_DIR_ENV = "AESTHETICS_SYSTEMD_USER_DIR"  # where user units go
SYSTEMCTL_ENV = "AESTHETICS_SYSTEMCTL"  # the systemctl program ("" = do not call it)
LOG_NAME = "refresh.log"


# ---------------------------------------------------------------------------- refresh
@click.command()
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False),
              help="A sources.toml; default: the sites of earlier crawls in this data dir.")
@click.option("--dry-run", is_flag=True,
              help="Only print what would be requested (no request, no change).")
@click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True,
              help="Parallel requests per site.")
@click.option("--delay", type=click.FloatRange(min=0),
              help="Seconds between requests to a site (default 1.0 with AutoThrottle).")
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no summary on stderr.")
@format_option("table", "json")
@data_dir_option
def refresh(sources_file: str | None, dry_run: bool, concurrency: int, delay: float | None,
            no_index: bool, quiet: bool, fmt: str) -> None:
    """Re-visit every known source and report what changed since the last visit.

    Feeds (found through the pages' <link rel="alternate">) and sitemaps point to new and
    updated articles; every known page is asked again with If-None-Match /
    If-Modified-Since, so an unchanged page costs a 304 and no parsing. A change is a change
    of the cleaned text (a new sidebar advert is not). A page answering 404/410 twice in a
    row — or once, when its site's sitemap lists everything and no longer lists it — is
    deleted: its document becomes a tombstone and leaves the index. The report lists new,
    changed and deleted URLs, counts unchanged documents and lists errors; it is stored as a
    "refresh" run (see `aesthetics history`). Takes the same lock as `crawl` (exit 4 if busy).

    \b
    Example:
      aesthetics refresh
      aesthetics refresh --sources sources.toml --format json
      aesthetics refresh --dry-run
    """
    from crawler.run import CrawlConfig
    from crawler.sources import load_sources

    sources = load_sources(sources_file) if sources_file else None
    data_dir = app().data_dir
    config = CrawlConfig(sources=[], concurrency=concurrency, delay=delay,
                         log_level="ERROR" if quiet else "WARNING")
    if dry_run:
        _dry_run(data_dir, sources, fmt)
        return
    from corpus.lock import DataDirLock

    with DataDirLock(data_dir, "crawl", command="aesthetics refresh"):
        result = _refresh(data_dir, sources, config, sources_file, no_index, quiet)
    _print_report(result, fmt)


def _known(store: Store, sources: list | None) -> list:
    from corpus.errors import NothingYetError
    from crawler.refresh import known_sources

    found = sources if sources is not None else known_sources(store)
    if not found:
        raise NothingYetError(f"nothing to refresh in {store.path.parent}: no earlier crawl; "
                              "run `aesthetics crawl URL` or pass --sources FILE")
    return found


def _dry_run(data_dir: Path, sources: list | None, fmt: str) -> None:
    from crawler.refresh import plan_refresh

    with Store.open(data_dir, create=False) as store:
        plan = plan_refresh(store, _known(store, sources)).to_dict()
    plan["dry_run"] = True
    if fmt == "json":
        emit_object(plan, fmt)
        return
    click.echo("dry run: nothing requested, nothing changed")
    for site in plan["sites"]:
        click.echo(f"\nsite {site['name']} ({site['known']} pages stored)")
        for kind in ("listings", "feeds", "sitemaps"):
            for url in site[kind]:
                click.echo(f"  {kind[:-1]:8} {url}")
    click.echo("")
    emit([{"url": r["url"], "if_none_match": r.get("etag"),
           "if_modified_since": r.get("last_modified")} for r in plan["revisit"]],
         "table", ["url", "if_none_match", "if_modified_since"])
    click.echo("\n" + " ".join(f"{k}={v}" for k, v in plan["counts"].items()))


def _refresh(data_dir: Path, sources: list | None, config, sources_file: str | None,
             no_index: bool, quiet: bool) -> dict:
    from crawler.refresh import refresh as run_refresh

    # With a sources file the first refresh may be the first visit (cron from day one);
    # without one there is nothing to refresh until something was crawled.
    with Store.open(data_dir, create=sources is not None) as store:
        store.mark_interrupted_runs()  # we hold the lock: their processes are gone
        found = _known(store, sources)
        run = store.start_run("refresh", {"sources": [s.name for s in found],
                                          "sources_file": sources_file})
        documents = DocumentStep(data_dir, found, store=store)
        outcome = "failed"
        try:
            report = run_refresh(store, data_dir, found, config, on_page=documents.process,
                                 on_finish=documents.finish,
                                 progress=lambda line: progress(line, quiet=quiet))
            if sys.stderr.isatty() and not quiet:
                click.echo("", err=True)
            index = None if no_index else index_step(store, data_dir, quiet=quiet)
            outcome = "ok"
        except KeyboardInterrupt:
            outcome = "interrupted"
            raise
        finally:
            if outcome != "ok":
                store.finish_run(run, outcome)
        run.counts = report.counts()
        run.details.update({"new": report.new, "changed": report.changed,
                            "deleted": report.deleted, "missing": report.missing,
                            "errors": report.errors[:100]})
        store.finish_run(run, "ok")
    result = report.to_dict()
    result["run"] = run.id
    result["index"] = index
    info(f"refresh ok: {len(report.new)} new, {len(report.changed)} changed, "
         f"{len(report.deleted)} deleted, {report.unchanged} unchanged, "
         f"{len(report.errors)} errors, {report.requests} requests", quiet=quiet)
    return result


def _print_report(result: dict, fmt: str) -> None:
    if fmt == "json":
        emit_object(result, fmt)
        return
    click.echo(f"refresh {result['started']} .. {result['finished']}")
    click.echo(f"new {len(result['new'])} · changed {len(result['changed'])} · deleted "
               f"{len(result['deleted'])} · unchanged {result['unchanged']} · errors "
               f"{len(result['errors'])} · requests {result['requests']} "
               f"({result['not_modified']} not modified)")
    for kind in ("new", "changed", "deleted", "missing"):
        if result[kind]:
            click.echo(f"\n{kind}:")
            for url in result[kind]:
                click.echo(f"  {url}")
    if result["errors"]:
        click.echo("\nerrors:")
        for error in result["errors"]:
            click.echo(f"  {error['url']}: {error['error']}")


# ---------------------------------------------------------------------------- dates
def parse_since(value: str) -> str:
    """Turn ``--since`` into the store's sortable UTC text.

    Accepts a date (2026-11-25), a date and time (2026-11-25T06:00, with or without an
    offset) or an age (90m, 6h, 7d) so `history --since 1d` works in cron mail.
    """
    text = value.strip()
    age = re.fullmatch(r"(\d+)\s*([mhd])", text)
    if age:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        when = datetime.now(timezone.utc) - timedelta(**{unit: int(age.group(1))})
        return when.replace(microsecond=0).isoformat()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(
            f"cannot read date {value!r}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM or an age like 6h / 7d"
        ) from None
    if len(text) == 10:  # a bare date: from its start, as the store writes dates
        return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------- history / changes
def _counts_text(counts: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items()))


@click.command()
@click.option("--since", help="Only runs started at or after DATE (YYYY-MM-DD, ISO time, or 6h/7d).")
@click.option("--kind", help="Only runs of this kind (crawl, refresh, index, import).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many runs (newest first).")
@format_option()
@data_dir_option
def history(since: str | None, kind: str | None, limit: int | None, fmt: str) -> None:
    """List past crawl / refresh / index runs, newest first, with their counts.

    A run still marked "running" whose process died shows as "interrupted" after the next
    refresh or crawl takes the lock.

    \b
    Example:
      aesthetics history --since 7d
      aesthetics history --kind refresh --format json
    """
    since_text = parse_since(since) if since else None
    with Store.open(app().data_dir, create=False) as store:
        runs = store.runs(since=since_text, kind=kind, limit=limit)
    rows = [{"id": r.id, "kind": r.kind, "started": r.started, "finished": r.finished,
             "outcome": r.outcome,
             "counts": r.counts if fmt in ("json", "jsonl") else _counts_text(r.counts)}
            for r in runs]
    emit(rows, fmt, ["id", "kind", "started", "finished", "outcome", "counts"])


@click.command()
@click.option("--since", required=True, help="DATE: YYYY-MM-DD, an ISO time, or an age like 6h / 7d.")
@format_option()
@data_dir_option
def changes(since: str, fmt: str) -> None:
    """List documents added, edited or deleted since DATE.

    ``change`` is "deleted" for tombstones, "changed" when the text was edited (``edits``
    counts the versions kept in history since DATE), else "new" (added, or only its
    metadata moved).

    \b
    Example:
      aesthetics changes --since 2026-11-01
      aesthetics changes --since 1d --format json
    """
    since_text = parse_since(since)
    with Store.open(app().data_dir, create=False) as store:
        found = store.changes_since(since_text)
    rows = []
    for row in found:
        change = "deleted" if row["deleted"] else "changed" if row["edits"] else "new"
        rows.append({"change": change, "id": row["id"], "url": row["url"], "title": row["title"],
                     "updated_at": row["updated_at"], "edits": row["edits"]})
    emit(rows, fmt, ["change", "updated_at", "url", "title", "edits"])


# ---------------------------------------------------------------------------- schedule
_EVERY = re.compile(r"(\d+)\s*(m|min|h|d)")


def parse_every(value: str) -> tuple[int, str]:
    """``--every`` as (n, unit) limited to what cron can repeat evenly.

    Cron restarts ``*/n`` counters every hour / day / month, so 7h would fire at 0, 7, 14, 21
    and again at 0: we only accept minutes dividing 60, hours dividing 24 and 1-31 days.
    """
    match = _EVERY.fullmatch(value.strip().lower())
    if not match:
        raise BadInputError(f"cannot read --every {value!r}: use e.g. 30m, 6h or 1d")
    n, unit = int(match.group(1)), match.group(2)[0]
    ok = {"m": n in (5, 10, 15, 20, 30) or n == 60,
          "h": n > 0 and 24 % n == 0,
          "d": 1 <= n <= 31}[unit]
    if not ok:
        allowed = {"m": "5, 10, 15, 20 or 30 minutes", "h": "1, 2, 3, 4, 6, 8, 12 or 24 hours",
                   "d": "1 to 31 days"}[unit]
        raise BadInputError(f"--every {value}: cron can only repeat evenly every {allowed}")
    if unit == "m" and n == 60:
        return 1, "h"
    if unit == "h" and n == 24:
        return 1, "d"
    return n, unit


def cron_schedule(n: int, unit: str) -> str:
    if unit == "m":
        return f"*/{n} * * * *"
    if unit == "h":
        return "17 * * * *" if n == 1 else f"17 */{n} * * *"
    return "17 3 * * *" if n == 1 else f"17 3 */{n} * *"


def systemd_interval(n: int, unit: str) -> str:
    suffix = {"m": "min", "h": "h", "d": "d"}[unit]
    return f"{n}{suffix}"


def refresh_command(data_dir: Path) -> list[str]:
    """The argv that runs ``aesthetics refresh`` for this data dir, as installed here."""
    exe = shutil.which("aesthetics")
    base = [exe] if exe else [sys.executable, "-c", "from search_cli.main import main; main()"]
    return [*base, "--data-dir", str(data_dir), "refresh"]


def unit_name(data_dir: Path) -> str:
    """One unit per data dir, so two corpora can each have their own schedule."""
    digest = hashlib.sha1(str(data_dir).encode("utf-8")).hexdigest()[:8]
    return f"aesthetics-refresh-{digest}"


def cron_marker(data_dir: Path) -> str:
    return f"# aesthetics-search refresh for {data_dir}"


def cron_entry(data_dir: Path, log: Path, n: int, unit: str) -> str:
    """The two crontab lines (marker comment + job) for this data dir."""
    cmd = " ".join(shlex.quote(a) for a in refresh_command(data_dir))
    return f"{cron_marker(data_dir)}\n{cron_schedule(n, unit)} {cmd} >> {shlex.quote(str(log))} 2>&1"


def systemd_units(data_dir: Path, log: Path, n: int, unit: str) -> dict[str, str]:
    """The ``.service`` and ``.timer`` text for a user timer (``systemctl --user``)."""
    name = unit_name(data_dir)
    exec_start = " ".join(_systemd_quote(a) for a in refresh_command(data_dir))
    service = (
        "[Unit]\n"
        f"Description=aesthetics-search refresh of {data_dir}\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={exec_start}\n"
        f"StandardOutput=append:{log}\n"
        f"StandardError=append:{log}\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=Run aesthetics-search refresh of {data_dir} every {systemd_interval(n, unit)}\n\n"
        "[Timer]\n"
        "OnBootSec=5min\n"
        f"OnUnitActiveSec={systemd_interval(n, unit)}\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{name}.service": service, f"{name}.timer": timer}


def _systemd_quote(arg: str) -> str:
    if arg and not re.search(r"[\s\"'\\$%;]", arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'"{escaped}"'


def systemd_dir() -> Path:
    env = os.environ.get(SYSTEMD_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def _crontab_program() -> list[str]:
    return shlex.split(os.environ.get(CRONTAB_ENV) or "crontab")


def read_crontab() -> str:
    """The current user's crontab; "no crontab for user" is an empty one."""
    cmd = _crontab_program()
    try:
        done = subprocess.run([*cmd, "-l"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise StorageError(f"cannot run {cmd[0]!r}: is cron installed? "
                           f"(or use --install systemd)") from None
    if done.returncode != 0:
        if "no crontab" in (done.stderr + done.stdout).lower():
            return ""
        raise StorageError(f"`{' '.join(cmd)} -l` failed: {done.stderr.strip()}")
    return done.stdout


def write_crontab(text: str) -> None:
    cmd = _crontab_program()
    done = subprocess.run([*cmd, "-"], input=text, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise StorageError(f"`{' '.join(cmd)} -` refused the new crontab: {done.stderr.strip()}")


def _without_entry(crontab: str, data_dir: Path) -> tuple[str, bool]:
    """The crontab minus our marker line and the job line after it."""
    lines, out, found, skip = crontab.splitlines(), [], False, False
    for line in lines:
        if skip:
            skip = False
            continue
        if line.strip() == cron_marker(data_dir):
            found, skip = True, True
            continue
        out.append(line)
    text = "\n".join(out)
    return (text + "\n" if text else ""), found


def _systemctl(*args: str) -> str | None:
    """Run ``systemctl --user ARGS``; returns a warning instead of failing the install."""
    program = os.environ.get(SYSTEMCTL_ENV, "systemctl")
    if not program:
        return None
    cmd = [*shlex.split(program), "--user", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return f"`{' '.join(cmd)}` not run: systemctl not found"
    if done.returncode != 0:
        return f"`{' '.join(cmd)}` failed: {done.stderr.strip() or done.returncode}"
    return None


def install_cron(entry: str, data_dir: Path, *, force: bool) -> str:
    current = read_crontab()
    rest, found = _without_entry(current, data_dir)
    if found and not force:
        raise BadInputError(
            f"the crontab already has a refresh entry for {data_dir}; "
            "use --force to replace it or --remove to delete it")
    write_crontab(rest + entry + "\n")
    return "replaced" if found else "installed"


def remove_cron(data_dir: Path) -> bool:
    rest, found = _without_entry(read_crontab(), data_dir)
    if found:
        write_crontab(rest)
    return found


def install_systemd(units: dict[str, str], *, force: bool) -> tuple[str, list[str]]:
    folder = systemd_dir()
    existing = [name for name in units if (folder / name).exists()]
    if existing and not force:
        raise BadInputError(
            f"{folder / existing[0]} already exists; use --force to replace it "
            "or --remove to delete it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in units.items():
            tmp = folder / (name + ".part")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(folder / name)
    except OSError as exc:
        raise StorageError(f"cannot write systemd units to {folder}: {exc.strerror}") from exc
    timer = next(n for n in units if n.endswith(".timer"))
    warnings = [w for w in (_systemctl("daemon-reload"), _systemctl("enable", "--now", timer)) if w]
    return ("replaced" if existing else "installed"), warnings


def remove_systemd(data_dir: Path) -> tuple[bool, list[str]]:
    folder, name = systemd_dir(), unit_name(data_dir)
    paths = [folder / f"{name}.timer", folder / f"{name}.service"]
    if not any(p.exists() for p in paths):
        return False, []
    warnings = [w for w in (_systemctl("disable", "--now", f"{name}.timer"),) if w]
    for path in paths:
        path.unlink(missing_ok=True)
    warnings += [w for w in (_systemctl("daemon-reload"),) if w]
    return True, warnings


@click.command()
@click.option("--every", default="6h", show_default=True,
              help="Interval: minutes (5-30m), hours dividing 24 (1-24h) or days (1-31d).")
@click.option("--print", "print_only", is_flag=True,
              help="Only print the crontab line and the systemd units (the default).")
@click.option("--install", "install", type=click.Choice(["cron", "systemd"]),
              help="Install for the current user; an existing entry is kept unless --force.")
@click.option("--remove", "remove", type=click.Choice(["cron", "systemd"]),
              help="Remove the entry installed for this data dir.")
@click.option("--force", is_flag=True, help="With --install: replace an existing entry.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              help=f"Log file for the refresh output (default: DATA_DIR/{LOG_NAME}).")
@format_option("table", "json")
@data_dir_option
def schedule(every: str, print_only: bool, install: str | None, remove: str | None,
             force: bool, log_file: str | None, fmt: str) -> None:
    """Print or install a schedule that runs `aesthetics refresh` on this data dir.

    Prints a crontab line and a systemd user timer/service pair; both append the refresh
    report to a log file. `--install` never silently overwrites an entry for the same data
    dir (exit 2; `--force` replaces it). The crontab program and the systemd unit folder
    come from $AESTHETICS_CRONTAB and $AESTHETICS_SYSTEMD_USER_DIR when set.

    \b
    Example:
      aesthetics schedule --every 6h --print
      aesthetics schedule --every 1d --install systemd
      aesthetics schedule --remove cron
    """
    if sum(bool(x) for x in (print_only, install, remove)) > 1:
        raise BadInputError("use just one of --print, --install and --remove")
    data_dir = app().data_dir.expanduser().resolve()
    log = Path(log_file).expanduser().resolve() if log_file else data_dir / LOG_NAME
    n, unit = parse_every(every)
    entry = cron_entry(data_dir, log, n, unit)
    units = systemd_units(data_dir, log, n, unit)
    if remove:
        if remove == "cron":
            found, warnings = remove_cron(data_dir), []
        else:
            found, warnings = remove_systemd(data_dir)
        for warning in warnings:
            info(f"warning: {warning}")
        info(f"removed the {remove} entry for {data_dir}" if found
             else f"no {remove} entry for {data_dir}: nothing removed")
        return
    if install:
        data_dir.mkdir(parents=True, exist_ok=True)  # the log file goes there
        if install == "cron":
            what = install_cron(entry, data_dir, force=force)
            info(f"{what} crontab entry: every {every}, log {log}")
        else:
            what, warnings = install_systemd(units, force=force)
            for warning in warnings:
                info(f"warning: {warning}")
            info(f"{what} {unit_name(data_dir)}.timer in {systemd_dir()}: every {every}, log {log}")
        return
    if fmt == "json":
        emit_object({"every": every, "data_dir": str(data_dir), "log": str(log), "cron": entry,
                     "systemd": units}, fmt)
        return
    click.echo("# crontab (crontab -e):")
    click.echo(entry)
    for name, text in units.items():
        click.echo(f"\n# {systemd_dir() / name}")
        click.echo(text, nl=False)
    click.echo(f"\n# then: systemctl --user daemon-reload && "
               f"systemctl --user enable --now {unit_name(data_dir)}.timer")

