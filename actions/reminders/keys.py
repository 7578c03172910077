"""Every Redis key the reminder store writes, in one place (after the deployment prefix).

Per user (`user` is `actions.pseudonym.user_key(sender_id)`, never a chat id):
  u:{user}:rem        hash, everything the reminders keep about one user:
                        to            "tg|<chat id>" or "wa|<wa_id>": where reminders go
                        c:{purpose}   "<consent text version>|<unix time>"
                        p:{posyandu}  "<created>|<expires>": a Posyandu subscription
                        k:{child}     "<birth>|<created>|<province>|<dose,dose>|<nickname>"
                      expires with its longest-lived item (a subscription after a year, a
                      child at 2 years of age, the planner extending it at most a year at a
                      time); items past their time are pruned by the code
  u:{user}:cadre      the cadre id this account is linked to (a year after last use)
  cadre:tries:{user}  link-code attempts today

Indices (what the planner walks; each member is also pruned when its record is gone):
  possubs:{posyandu}  zset user -> subscription expiry: the subscribers of one Posyandu
  posplan             zset posyandu -> when the planner next looks at it (only Posyandu
                      with subscribers are in it)
  imm:due             zset "{user}:{child}" -> when the planner next looks at that child

Cadres: cadre:rec:{id} (hash), cadre:ids (set), cadre:code:{code} (24 h),
cadre:draft:{broadcast} (1 day), cadre:bc:{broadcast} (30 days, no text),
cadre:week:{posyandu} (zset of the week's broadcasts), cadre:recent:{cadre} (zset of the
cadre's latest broadcast ids, no text; written by the chat and the console).
Written at STOP and erasure (actions/optout.py), read here and removed by a new consent:
optout:{user}.
"""

from __future__ import annotations

from actions.optout import opt_out_key

__all__ = [
    "CHILD_DUE",
    "POSYANDU_PLAN",
    "cadre_code",
    "cadre_draft",
    "cadre_ids",
    "cadre_link",
    "cadre_recent",
    "cadre_record",
    "cadre_sent",
    "cadre_tries",
    "cadre_week",
    "child_member",
    "optout",
    "subscribers",
    "user_record",
]

POSYANDU_PLAN = "posplan"
CHILD_DUE = "imm:due"


def user_record(prefix: str, user: str) -> str:
    return f"{prefix}u:{user}:rem"


def cadre_link(prefix: str, user: str) -> str:
    return f"{prefix}u:{user}:cadre"


def subscribers(prefix: str, posyandu_id: str) -> str:
    return f"{prefix}possubs:{posyandu_id}"


def child_member(user: str, child_id: str) -> str:
    return f"{user}:{child_id}"


def optout(prefix: str, user: str) -> str:
    """The opt-out marker (actions/optout.py, written at STOP and erasure)."""
    return opt_out_key(prefix, user)


def cadre_record(prefix: str, cadre_id: str) -> str:
    return f"{prefix}cadre:rec:{cadre_id}"


def cadre_ids(prefix: str) -> str:
    return f"{prefix}cadre:ids"


def cadre_code(prefix: str, code: str) -> str:
    return f"{prefix}cadre:code:{code}"


def cadre_tries(prefix: str, user: str) -> str:
    return f"{prefix}cadre:tries:{user}"


def cadre_draft(prefix: str, broadcast_id: str) -> str:
    return f"{prefix}cadre:draft:{broadcast_id}"


def cadre_sent(prefix: str, broadcast_id: str) -> str:
    return f"{prefix}cadre:bc:{broadcast_id}"


def cadre_week(prefix: str, posyandu_id: str) -> str:
    return f"{prefix}cadre:week:{posyandu_id}"


def cadre_recent(prefix: str, cadre_id: str) -> str:
    """The cadre's latest broadcasts, for their delivery reports (bot/cadre.py, the console)."""
    return f"{prefix}cadre:recent:{cadre_id}"
