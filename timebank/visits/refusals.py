"""Why a scan, check-in or check-out is refused: one place for each message."""

from __future__ import annotations

from timebank.errors import Conflict, Forbidden, Invalid


class PlacardRefused(Forbidden):
    """A scanned code that is not a working placard of this time bank."""


def bad_placard() -> PlacardRefused:
    return PlacardRefused(
        "This code is not a placard of this time bank, or it was altered.",
        "这不是本时间银行的上门服务码，或已被篡改。",
        code="bad_placard",
    )


def never_issued() -> PlacardRefused:
    return PlacardRefused(
        "This placard was never issued.", "这张服务码从未发放。", code="bad_placard"
    )


def revoked() -> PlacardRefused:
    return PlacardRefused(
        "This placard was replaced by a newer one and no longer works. "
        "Please ask the community office for the new placard.",
        "这张服务码已作废（已补发新码），请联系社区领取新码。",
        code="revoked_placard",
    )


def not_a_helper() -> Forbidden:
    return Forbidden(
        "Only a helper can check in a visit. Please sign in with a helper's account.",
        "只有帮扶人/志愿者可以扫码签到，请用帮扶人账号登录。",
        code="not_a_helper",
    )


def other_community() -> Forbidden:
    return Forbidden(
        "This resident belongs to another community. Please call your community office.",
        "这位老人属于其他社区，请联系您所在社区的工作人员。",
        code="other_community",
    )


def same_person() -> Forbidden:
    return Forbidden("You cannot serve yourself.", "不能为自己服务。", code="same_person")


def not_yours() -> Forbidden:
    return Forbidden(
        "You have no order now and no active pairing with this resident. "
        "Please call your community office to be assigned.",
        "您现在没有这位老人的订单，也没有结对关系。请联系社区工作人员派单。",
        code="not_yours",
    )


def not_in_plan() -> Invalid:
    return Invalid(
        "Choose one of the services of this pairing's plan.",
        "请选择结对计划中的服务项目。",
        code="unknown_service",
    )


def open_elsewhere(name: str) -> Conflict:
    return Conflict(
        f"Your visit to {name} is still open. Finish it there first.",
        f"您在{name}家的服务还没有结束，请先去签退。",
        code="visit_open_elsewhere",
    )


def no_open_visit() -> Conflict:
    return Conflict(
        "You have no visit open here. Tap Start first.",
        "您在这里没有正在进行的服务，请先点“开始服务”。",
        code="no_open_visit",
    )


def event_id_taken() -> Conflict:
    return Conflict(
        "This event id was already used. Please reload the page.",
        "该事件编号已被使用，请刷新页面。",
        code="event_id_taken",
    )
