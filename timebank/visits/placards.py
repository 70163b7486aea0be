"""QR placards (上门服务码): signed tokens, their generations, PNG images, the visit PIN.

A placard's QR holds ``BASE_URL/v/<token>``; the token is an itsdangerous signature, with
a salt of its own, over the resident's member id and the placard's generation. Nothing
personal is in it. Reissuing a placard bumps the generation, and older placards stop
working at once.
"""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from timebank import inputs
from timebank.errors import Invalid
from timebank.people import audit
from timebank.people.audit import Actor
from timebank.people.models import Member
from timebank.people.service import in_argon2_pool
from timebank.visits import refusals
from timebank.visits.models import Placard

SALT = "timebank.placard.v1"
PIN_PATTERN = re.compile(r"[0-9]{4,6}")  # after inputs.plain(), which makes "１２３４" "1234"
_pins = PasswordHasher()


def make_token(secret: str, member_id: int, generation: int) -> str:
    """The signed token for one generation of a resident's placard."""
    return str(URLSafeSerializer(secret, salt=SALT).dumps([member_id, generation]))


@lru_cache(maxsize=4096)
def read_token(secret: str, token: str) -> tuple[int, int]:
    """(member id, generation) from a token, or PlacardRefused when it is not ours.

    Remembered once read (a token's answer never changes; a refused one raises and is not
    remembered): every tap reads its placard's token, ~50 µs of signature checking. Whether
    the generation is still current is read from the database on every tap.
    """
    try:
        value = URLSafeSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        value = None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise refusals.bad_placard()
    return value[0], value[1]


def placard_url(base_url: str, token: str) -> str:
    """What the QR encodes."""
    return f"{base_url.rstrip('/')}/v/{token}"


async def placard_of(resident: Member) -> Placard:
    """The resident's placard, issued (generation 1) on first use."""
    found = await Placard.get_or_none(resident=resident)
    if found is not None:
        return found
    try:
        return await Placard.create(resident=resident)
    except IntegrityError:  # issued by another request at the same moment
        return await Placard.get(resident=resident)


async def current(secret: str, token: str) -> tuple[Member, Placard]:
    """The resident of a working token; PlacardRefused if forged or reissued since."""
    member_id, generation = read_token(secret, token)
    placard = await Placard.get_or_none(resident_id=member_id)
    if placard is None:
        raise refusals.never_issued()
    if placard.generation != generation:
        raise refusals.revoked()
    return await Member.get(id=member_id), placard


async def reissue(actor: Actor, resident: Member) -> Placard:
    """A new placard generation: every earlier placard stops working."""
    placard = await placard_of(resident)
    async with in_transaction():
        await Placard.filter(id=placard.id).update(
            generation=F("generation") + 1, issued_by_id=actor.member_id
        )
        await audit.record_about(actor, "placard.reissue", resident)
    return await Placard.get(id=placard.id)


async def set_pin(actor: Actor, resident: Member, pin: str) -> Placard:
    """Set (or, with an empty ``pin``, clear) the PIN the resident types to confirm visits."""
    pin = inputs.plain(pin)
    if pin and not PIN_PATTERN.fullmatch(pin):
        raise Invalid(
            "The PIN must be 4 to 6 digits.", "确认码须为 4 到 6 位数字。", code="bad_pin"
        )
    placard = await placard_of(resident)
    pin_hash = await in_argon2_pool(_pins.hash, pin) if pin else ""  # off the event loop
    async with in_transaction():
        await Placard.filter(id=placard.id).update(pin_hash=pin_hash)
        await audit.record_about(actor, "placard.pin" if pin else "placard.pin_clear", resident)
    return await Placard.get(id=placard.id)


def pin_matches(placard: Placard, pin: str) -> bool:
    """Whether ``pin`` is the resident's PIN (never, when none is set)."""
    if not placard.pin_hash:
        return False
    try:
        typed = inputs.plain(pin).encode("utf-8", "surrogatepass")
        return bool(_pins.verify(placard.pin_hash, typed))
    except (VerificationError, InvalidHashError):
        return False
