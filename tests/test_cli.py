"""The timebank command, run as a person would: in a fresh data folder, as a process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from timebank import __version__
from timebank.demo import DEMO_PEOPLE

pytestmark = pytest.mark.slow


def timebank(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``timebank ARGS`` with its data in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")} | {
        "TIMEBANK_DATA_DIR": str(tmp_path / "var")
    }
    return subprocess.run(
        [sys.executable, "-m", "timebank", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def members(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        return conn.execute("SELECT phone, name FROM member ORDER BY id").fetchall()


def test_version(tmp_path: Path) -> None:
    result = timebank(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"timebank {__version__}"


def test_migrate_then_demo_twice(tmp_path: Path) -> None:
    migrate = timebank(tmp_path, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "applied timebank.0001_initial" in migrate.stdout
    again = timebank(tmp_path, "migrate")
    assert again.returncode == 0 and "applied" not in again.stdout
    for _ in range(2):
        demo = timebank(tmp_path, "demo")
        assert demo.returncode == 0, demo.stderr
        assert "13800000002" in demo.stdout and "coordinator" in demo.stdout
    assert len(members(tmp_path)) == len(DEMO_PEOPLE) + 40  # the logins and the residents
    # 陈秀英 agreed that her son 张建国 may act for her: the family pages show in the demo.
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        consented = conn.execute(
            "SELECT l.consent_by_id = m.id FROM family_link l JOIN member m ON m.id = l.member_id"
            " JOIN member r ON r.id = l.relative_id"
            " WHERE m.phone = '13800000005' AND r.phone = '13800000003'"
            " AND l.consent_at IS NOT NULL"
        ).fetchall()
    assert consented == [(1,)]


# Who ``create-user`` makes in these tests.
ADMIN = ("--phone", "13900000001", "--name", "管理员")


def test_create_user_reads_the_password_from_stdin(tmp_path: Path) -> None:
    result = timebank(
        tmp_path, "create-user", *ADMIN, "--district", "示范区", stdin="a-strong-password\n"
    )
    assert result.returncode == 0, result.stderr
    assert "created admin 管理员 (13900000001) in 示范区" in result.stdout
    assert members(tmp_path) == [("13900000001", "管理员")]
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        (stored,) = conn.execute("SELECT password_hash FROM member").fetchone()
    assert stored.startswith("$argon2") and "a-strong-password" not in stored


def test_create_user_never_takes_a_password_on_the_command_line(tmp_path: Path) -> None:
    result = timebank(tmp_path, "create-user", *ADMIN, "--password", "secret123")
    assert result.returncode == 2
    assert "unrecognized arguments: --password" in result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--phone", "not-a-phone", "--name", "X", "--district", "D"], "long-enough\n", "电话号码"),
        (["--phone", "13900000001", "--name", "X", "--district", "D"], "short\n", "at least 8"),
        (["--phone", "13900000001", "--name", "X"], "long-enough\n", "--district"),
        (["--phone", "13900000001", "--name", "X", "--community", "99"], "long-enough\n", "99"),
    ],
)
def test_create_user_explains_bad_input(
    tmp_path: Path, args: list[str], stdin: str, message: str
) -> None:
    assert timebank(tmp_path, "migrate").returncode == 0
    result = timebank(tmp_path, "create-user", *args, stdin=stdin)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert members(tmp_path) == []


def test_bad_setting_is_a_clear_configuration_error(tmp_path: Path) -> None:
    env_backup = os.environ.get("TIMEBANK_LANG")
    os.environ["TIMEBANK_LANG"] = "fr"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "timebank", "migrate"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            env={**os.environ, "TIMEBANK_DATA_DIR": str(tmp_path / "var")},
        )
    finally:
        if env_backup is None:
            del os.environ["TIMEBANK_LANG"]
        else:
            os.environ["TIMEBANK_LANG"] = env_backup
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "TIMEBANK_LANG" in result.stderr


def test_orders_generate_is_safe_to_repeat(tmp_path: Path) -> None:
    assert timebank(tmp_path, "demo").returncode == 0  # an approved pairing with a plan
    first = timebank(tmp_path, "orders", "generate", "--days", "8")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 8
    # The demo generated today and tomorrow already; meals daily, cleaning weekly follow.
    created = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert created[:2] == [0, 0] and created[2:7] == [1] * 5 and created[7] == 2
    again = timebank(tmp_path, "orders", "generate", "--days", "8")
    assert [line.split(": ")[1].split()[0] for line in again.stdout.splitlines()] == ["0"] * 8
    bad = timebank(tmp_path, "orders", "generate", "--date", "someday")
    assert bad.returncode == 2 and "2026-11-23" in bad.stderr


def test_placards_decode_to_their_urls(tmp_path: Path) -> None:
    """Each PNG decodes, with zbar (an independent decoder), to exactly the placard URL."""
    import shutil

    from itsdangerous import URLSafeSerializer

    from timebank.visits.placards import SALT

    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        reason = "the QR decoding test needs zbarimg (apt-get install zbar-tools)"
        if os.environ.get("TIMEBANK_TEST_REQUIRE_ALL") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    assert timebank(tmp_path, "demo").returncode == 0
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        (community,) = conn.execute("SELECT id FROM community WHERE name = '桂花社区'").fetchone()
        residents = dict(
            conn.execute(
                "SELECT m.member_no, m.id FROM member m JOIN member_role r ON r.member_id = m.id"
                " WHERE r.role = 'resident' AND m.community_id = ?",
                (community,),
            ).fetchall()
        )
    out = tmp_path / "cards"
    result = timebank(tmp_path, "placards", "--out", str(out), "--community", str(community))
    assert result.returncode == 0, result.stderr
    pngs = sorted(out.glob("*.png"))
    assert sorted(p.stem for p in pngs) == sorted(residents)
    secret = (tmp_path / "var" / "secret_key").read_text().strip()
    signer = URLSafeSerializer(secret, salt=SALT)
    for png in pngs:
        decoded = subprocess.run(
            [zbarimg, "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
        ).stdout.strip()
        # The default base URL; the token names the resident and generation 1, and nothing else.
        assert decoded.startswith("http://127.0.0.1:8000/v/")
        assert signer.loads(decoded.rsplit("/v/", 1)[1]) == [residents[png.stem], 1]
    sheet = (out / "placards.html").read_text(encoding="utf-8")
    assert sheet.count("<img") == len(pngs) and "桂花社区" in sheet
    # Every community at once: a folder each.
    every = timebank(tmp_path, "placards", "--out", str(tmp_path / "all"))
    assert every.returncode == 0 and (tmp_path / "all" / str(community) / "placards.html").exists()
    missing = timebank(tmp_path, "placards", "--out", str(out), "--community", "999")
    assert missing.returncode == 2 and "999" in missing.stderr


def test_close_forgotten_visits(tmp_path: Path) -> None:
    assert timebank(tmp_path, "demo").returncode == 0
    result = timebank(tmp_path, "visits", "close-forgotten")
    assert result.returncode == 0, result.stderr
    assert "0 visit(s) closed" in result.stdout  # the demo's open visit began minutes ago


def test_overdue_lists_residents_not_visited(tmp_path: Path) -> None:
    import json

    assert timebank(tmp_path, "demo").returncode == 0
    result = timebank(tmp_path, "overdue")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    count = int(lines[0].split()[0])
    assert count == len(lines) - 1 and count > 0
    assert "独居" in result.stdout
    assert "陈秀英" not in result.stdout  # her son brings her meals every day
    as_json = json.loads(timebank(tmp_path, "overdue", "--json").stdout)
    assert len(as_json) == count
    days = [o["overdue_days"] for o in as_json]
    assert days == sorted(days, reverse=True)  # most overdue first


def test_prune_deletes_old_sign_in_attempts(tmp_path: Path) -> None:
    assert timebank(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        conn.executemany(
            "INSERT INTO signin_attempt (phone, ip, succeeded, at) VALUES (?, ?, 0, ?)",
            [("13800000001", "10.0.0.1", "2020-01-01 00:00:00+00:00"),
             ("13800000001", "10.0.0.1", "2999-01-01 00:00:00+00:00")],
        )  # fmt: skip
    result = timebank(tmp_path, "prune")
    assert result.returncode == 0, result.stderr
    assert "deleted 1 sign-in attempt(s)" in result.stdout
    assert "已删除登录尝试 1 条" in result.stdout
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        left = conn.execute("SELECT at FROM signin_attempt").fetchall()
    assert [str(row[0])[:4] for row in left] == ["2999"]


def test_settlement_export_of_the_demo(tmp_path: Path) -> None:
    """The demo's paid helper: last month closed; written as XLSX and CSV."""
    from openpyxl import load_workbook

    assert timebank(tmp_path, "demo").returncode == 0
    with sqlite3.connect(tmp_path / "var" / "timebank.sqlite3") as conn:
        community, last, fen = conn.execute(
            "SELECT community_id, month, amount_fen FROM settlement_month"
            " ORDER BY month DESC LIMIT 1"
        ).fetchone()
    out = tmp_path / "settlement.xlsx"
    result = timebank(tmp_path, "settlement", "--community", str(community), "--month", last,
                      "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "已结算" in result.stdout
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert "结算表（已结算）" in str(rows[0][0])
    total = next(r for r in rows if r[0] == "合计")
    assert total[5] == round(fen / 100, 2) and fen > 0
    csv_out = tmp_path / "settlement.csv"
    assert timebank(tmp_path, "settlement", "--community", str(community), "--month", last,
                    "--format", "csv", "--out", str(csv_out)).returncode == 0  # fmt: skip
    assert csv_out.read_text(encoding="utf-8-sig").splitlines()[1].startswith("帮扶人")
    bad = timebank(tmp_path, "settlement", "--community", "9999", "--month", last,
                   "--out", str(out))  # fmt: skip
    assert bad.returncode == 1 and "找不到社区 9999" in bad.stderr
    month = timebank(tmp_path, "settlement", "--community", str(community), "--month",
                     "October", "--out", str(out))  # fmt: skip
    assert month.returncode == 1 and "必须是月份" in month.stderr


def serve_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    *args: str,
) -> tuple[str, str | None]:  # fmt: skip
    """``timebank serve ARGS`` up to the point it would start uvicorn: what it printed to
    standard error, and the base URL the app (and every worker) would read."""
    import uvicorn

    from timebank import cli

    async def no_migrations(settings: object) -> None:
        return None

    for name in [k for k in os.environ if k.startswith("TIMEBANK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TIMEBANK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(cli, "_migrate", no_migrations)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    assert cli.main(["serve", *args]) == 0
    return capsys.readouterr().err, os.environ.get("TIMEBANK_BASE_URL")


def test_serve_warns_when_placards_would_open_nowhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Listening on 0.0.0.0:8080 with the default base URL (127.0.0.1:8000) prints a loud
    warning; --base-url sets the address placards hold, for the app and its workers."""
    err, _ = serve_in_process(monkeypatch, capsys, tmp_path, "--host", "0.0.0.0", "--port", "8080")
    assert "WARNING" in err and "http://127.0.0.1:8000" in err and "--base-url" in err
    assert "警告" in err
    err, url = serve_in_process(
        monkeypatch, capsys, tmp_path,
        "--host", "0.0.0.0", "--port", "8080", "--base-url", "http://192.168.1.20:8080/",
    )  # fmt: skip
    assert err == "" and url == "http://192.168.1.20:8080"
    err, _ = serve_in_process(monkeypatch, capsys, tmp_path)  # loopback on both sides
    assert err == ""
    err, _ = serve_in_process(monkeypatch, capsys, tmp_path, "--port", "8080")
    assert "WARNING" in err
