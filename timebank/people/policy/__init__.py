"""Who may see and do what: every permission decision in one place.

A member sees their own data; a coordinator sees and acts inside the communities they
coordinate (a coordinator of a sub-district or district: every community below it, see
``auth._reach``); an admin (district-wide) sees and acts everywhere.

The decisions live in two modules, read as one through this package: ``core`` (roles and rank,
communities, family, people) and ``features`` (visits, orders, pairing, redeem, the ledger,
rating).
"""

from __future__ import annotations

from timebank.people.policy.core import *  # noqa: F403
from timebank.people.policy.core import __all__ as _core
from timebank.people.policy.features import *  # noqa: F403
from timebank.people.policy.features import __all__ as _features

__all__ = [*_core, *_features]
