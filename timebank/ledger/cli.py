"""``timebank verify`` and ``timebank checkpoint``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from timebank.errors import ConfigError
from timebank.ledger.verify import CheckpointMark, Report, verify
from timebank.settings import Settings


def _read_checkpoint(path: str) -> CheckpointMark:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        seq, digest = int(data["seq"]), str(data["hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a checkpoint file written by `timebank checkpoint`: {exc}"
        ) from None
    if len(digest) != 64:
        raise ConfigError(f"{path}: the hash must have 64 hex digits")
    return CheckpointMark(seq, digest, f"external ({path})")


def _progress(entries: int) -> None:
    if entries >= 100_000:  # only large ledgers take long enough to need it
        print(f"  verified {entries:,} entries …", file=sys.stderr, flush=True)


async def _verify(settings: Settings, external: CheckpointMark | None) -> Report:
    from timebank.db import connected

    async with connected(settings.db_url):
        return await verify(external=external, progress=_progress)


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Check the whole ledger; exit 1 naming the first broken seq."""
    external = _read_checkpoint(args.checkpoint) if args.checkpoint else None
    report = asyncio.run(_verify(settings, external))
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    elif report.ok:
        print(
            f"ledger intact / 账本完整: {report.entries:,} entries, {report.transactions:,} "
            f"transactions, {report.checkpoints} checkpoint(s), head seq {report.head_seq} "
            f"{report.head_hash} ({report.seconds:.2f} s)"
        )
    else:
        where = f"seq {report.broken_seq}" if report.broken_seq is not None else "accounts"
        print(f"LEDGER BROKEN / 账本被篡改 at {where}: {report.reason}")
    return 0 if report.ok else 1


async def _checkpoint(settings: Settings, note: str) -> dict[str, object]:
    from timebank.db import connected
    from timebank.ledger.service import checkpoint_json, create_checkpoint

    async with connected(settings.db_url):
        return checkpoint_json(await create_checkpoint(actor_id=None, note=note))


def cmd_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    """Record the chain head as a checkpoint and print or save it (keep a copy elsewhere)."""
    data = json.dumps(asyncio.run(_checkpoint(settings, args.note)), ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(data + "\n", encoding="utf-8")
        print(f"checkpoint written to {args.out}: {data}")
    else:
        print(data)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ledger's commands to the ``timebank`` parser."""
    check = sub.add_parser("verify", help=cmd_verify.__doc__)
    check.add_argument("--checkpoint", help="a checkpoint file exported earlier")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_verify)
    mark = sub.add_parser("checkpoint", help=cmd_checkpoint.__doc__)
    mark.add_argument("--out", help="write the checkpoint to this file")
    mark.add_argument("--note", default="", help="a note stored with the checkpoint")
    mark.set_defaults(func=cmd_checkpoint)
