"""In-memory state of the fake WeChat server: seed, tokens, OAuth codes, stored messages, request log, faults.

One ``FakeState`` per fake app; every read and write happens under ``state.lock``. The fake keeps its own
clock (real time plus an offset moved by ``POST /_fake/clock``) so tests can age tokens, OAuth codes and
de-duplication windows without sleeping.

Default seed (matches DevelopmentConfig / TestConfig; the app's MP_* / WECOM_* values override it):

- mp: appid ``wxdemo0000000001``, secret ``demo-mp-secret``, token ``demotoken``, aes_key
  ``abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG``, original_id ``gh_demo00000001``; users
  ``odemo-resident-01`` … ``-05`` (subscribed) and ``odemo-unsubscribed-01`` (not subscribed); templates
  ``TPL_GENERIC`` (MP_TEMPLATE_ID) = thing1 thing, character_string2 character_string, phrase3 phrase, time4 time,
  and ``TPL_ALL_TYPES`` with one field of every type (thing1 … const13, see ALL_TYPES_TEMPLATE_FIELDS).
- work: corpid ``wwdemo0000000001``, corpsecret ``demo-wecom-secret``, agentid 1000002, same token and aes_key;
  users = the demo district's usernames (admin, leader.wang, center.li, xinfang.liaison, qs.staff, qs01.g1 …,
  a superset: every short × .leader/.staff/.leader2/.center and every village 01–10 × .head/.cadre/.g1–.g3);
  guests (non-members for OAuth) ``odemo-wecom-guest-01``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import secrets
import threading
import time
from collections import deque

DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

#: Template fields of the default seed (see notify/fake/fields.py for the types).
GENERIC_TEMPLATE_FIELDS = {"thing1": "thing", "character_string2": "character_string", "phrase3": "phrase",
                           "time4": "time"}
ALL_TYPES_TEMPLATE_FIELDS = {"thing1": "thing", "character_string2": "character_string", "phrase3": "phrase",
                             "time4": "time", "date5": "date", "number6": "number", "amount7": "amount",
                             "name8": "name", "phone_number9": "phone_number", "car_number10": "car_number",
                             "letter11": "letter", "symbol12": "symbol", "const13": "const"}

SETTINGS_DEFAULTS = {
    "FAKE_TOKEN_TTL": 7200,            # lifetime of access tokens (seconds)
    "FAKE_TOKEN_GRACE": 300,           # an MP /cgi-bin/token token stays valid this long after a newer one
    "FAKE_CODE_TTL": 300,              # OAuth code lifetime (single use)
    "FAKE_MP_DEDUP_SECONDS": 600,      # client_msg_id window
    "FAKE_WORK_RATE_PER_MINUTE": 30,   # WeCom silently drops messages to a member above this per minute
    "FAKE_PUSH_TIMEOUT": 5,            # /_fake/push waits this long for our callback
    "FAKE_MAX_LOG": 100_000,           # request log and message store keep at most this many entries
}


def demo_wecom_userids() -> list[str]:
    """A superset of the demo district's usernames, used as WeCom userids by the default seed."""
    ids = ["admin", "secadmin", "auditor", "leader.wang", "leader.zhao", "center.li", "center.chen",
           "xinfang.head", "xinfang.liaison", "sifa.head", "sifa.liaison", "renshe.liaison", "zhujian.liaison",
           "minzheng.liaison"]
    for short in ("cg", "dh", "qs", "lh", "ty", "by"):
        ids += [f"{short}.leader", f"{short}.staff", f"{short}.leader2", f"{short}.center"]
        for village in range(1, 11):
            v = f"{short}{village:02d}"
            ids += [f"{v}.head", f"{v}.cadre", f"{v}.g1", f"{v}.g2", f"{v}.g3"]
    return ids


def default_seed(config: dict | None = None) -> dict:
    """The seed a fresh fake starts with; the app's MP_* / WECOM_* settings override the demo values."""
    config = config or {}

    def pick(key, default):
        value = config.get(key)
        return value if value not in (None, "", 0) else default

    template_id = pick("MP_TEMPLATE_ID", "TPL_GENERIC")
    seed = {
        "mp": {
            "appid": pick("MP_APP_ID", "wxdemo0000000001"),
            "secret": pick("MP_SECRET", "demo-mp-secret"),
            "token": pick("MP_TOKEN", "demotoken"),
            "aes_key": pick("MP_AES_KEY", DEMO_AES_KEY),
            "original_id": "gh_demo00000001",
            "users": [{"openid": f"odemo-resident-{n:02d}", "subscribed": True, "nickname": f"示范居民{n}"}
                      for n in range(1, 6)]
                     + [{"openid": "odemo-unsubscribed-01", "subscribed": False, "nickname": "已取关居民"}],
            "templates": {template_id: dict(GENERIC_TEMPLATE_FIELDS),
                          "TPL_ALL_TYPES": dict(ALL_TYPES_TEMPLATE_FIELDS)},
        },
        "work": {
            "corpid": pick("WECOM_CORP_ID", "wwdemo0000000001"),
            "corpsecret": pick("WECOM_SECRET", "demo-wecom-secret"),
            "agentid": int(pick("WECOM_AGENT_ID", 1000002)),
            "token": pick("WECOM_TOKEN", "demotoken"),
            "aes_key": pick("WECOM_AES_KEY", DEMO_AES_KEY),
            "users": [{"userid": u, "name": u} for u in demo_wecom_userids()],
            "guests": ["odemo-wecom-guest-01"],
        },
    }
    extra = config.get("FAKE_WECHAT_SEED")
    return merge_seed(seed, extra) if extra else seed


class SeedError(ValueError):
    pass


def _check_aes_key(key: str) -> None:
    try:
        raw = base64.b64decode(key + "=", validate=True)
    except (binascii.Error, TypeError) as exc:
        raise SeedError("aes_key must be 43 characters of base64") from exc
    if len(key) != 43 or len(raw) != 32:
        raise SeedError("aes_key must be 43 characters of base64 (a 32-byte key)")


def _normalise_mp_users(users) -> list[dict]:
    out = []
    for item in users:
        if isinstance(item, str):
            item = {"openid": item}
        if not isinstance(item, dict) or not item.get("openid"):
            raise SeedError("mp.users: each user needs an openid")
        out.append({"openid": str(item["openid"]), "subscribed": bool(item.get("subscribed", True)),
                    "nickname": str(item.get("nickname", ""))})
    return out


def _normalise_work_users(users) -> list[dict]:
    out = []
    for item in users:
        if isinstance(item, str):
            item = {"userid": item}
        if not isinstance(item, dict) or not item.get("userid"):
            raise SeedError("work.users: each user needs a userid")
        out.append({"userid": str(item["userid"]), "name": str(item.get("name", item["userid"]))})
    return out


def merge_seed(base: dict, update: dict) -> dict:
    """Shallow per-platform merge: each key given under "mp"/"work" replaces that key. Validates the result."""
    if not isinstance(update, dict) or set(update) - {"mp", "work"}:
        raise SeedError('seed must be an object with "mp" and/or "work"')
    seed = copy.deepcopy(base)
    for platform in ("mp", "work"):
        part = update.get(platform)
        if part is None:
            continue
        if not isinstance(part, dict):
            raise SeedError(f"{platform} must be an object")
        seed[platform].update(copy.deepcopy(part))
    mp, work = seed["mp"], seed["work"]
    mp["users"] = _normalise_mp_users(mp.get("users", []))
    work["users"] = _normalise_work_users(work.get("users", []))
    work["guests"] = [str(g) for g in work.get("guests", [])]
    templates = mp.get("templates", {})
    if not isinstance(templates, dict) or not all(isinstance(f, dict) for f in templates.values()):
        raise SeedError("mp.templates must map template ids to {field: type}")
    from notify.fake.fields import FIELD_TYPES

    for tid, fields in templates.items():
        for key, ftype in fields.items():
            if ftype not in FIELD_TYPES:
                raise SeedError(f"template {tid}: field {key} has unknown type {ftype!r}")
    try:
        work["agentid"] = int(work["agentid"])
    except (TypeError, ValueError) as exc:
        raise SeedError("work.agentid must be an integer") from exc
    for part in (mp, work):
        _check_aes_key(part["aes_key"])
    return seed


class FakeState:
    def __init__(self, config: dict | None = None):
        config = config or {}
        self.lock = threading.RLock()
        self.settings = {k: config.get(k, v) for k, v in SETTINGS_DEFAULTS.items()}
        self.default_seed = default_seed(config)
        self.seed = copy.deepcopy(self.default_seed)
        self.reset()

    # --- lifecycle -------------------------------------------------------------------------------------------
    def reset(self, *, all_: bool = False) -> None:
        with self.lock:
            if all_:
                self.seed = copy.deepcopy(self.default_seed)
            self.clock_offset = 0.0
            self.tokens: dict[str, dict] = {}
            self.mp_current: str | None = None        # latest /cgi-bin/token token
            self.mp_stable: str | None = None         # current stable_token token
            self.work_current: dict[tuple, str] = {}  # (corpid, secret) -> token
            self.codes: dict[str, dict] = {}
            self.messages: deque = deque(maxlen=self.settings["FAKE_MAX_LOG"])
            self.requests: deque = deque(maxlen=self.settings["FAKE_MAX_LOG"])
            self.faults: list[dict] = []
            self.mp_dedup: dict[tuple, tuple[int, float]] = {}
            self.work_recent: dict[str, list[dict]] = {}  # userid -> messages of the last 4 hours
            self.receipts: list[dict] = []
            self._seq = 0
            self._mp_msgid = 2_000_000_000 + secrets.randbelow(100_000_000)
            self.apply_seed_users()

    def apply_seed(self, update: dict) -> dict:
        with self.lock:
            self.seed = merge_seed(self.seed, update)
            self.apply_seed_users()
            return self.seed

    def apply_seed_users(self) -> None:
        self.mp_users = {u["openid"]: dict(u) for u in self.seed["mp"]["users"]}
        self.work_users = {u["userid"]: dict(u) for u in self.seed["work"]["users"]}

    # --- clock and ids ---------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def next_id(self) -> int:
        self._seq += 1
        return self._seq

    def next_mp_msgid(self) -> int:
        self._mp_msgid += 1 + secrets.randbelow(7)
        return self._mp_msgid

    # --- tokens ----------------------------------------------------------------------------------------------
    def _new_token(self, platform: str, kind: str, ttl: float | None = None) -> str:
        token = secrets.token_urlsafe(96)
        self.tokens[token] = {"platform": platform, "kind": kind, "issued": self.now(),
                              "expires_at": self.now() + (ttl or self.settings["FAKE_TOKEN_TTL"]),
                              "superseded_until": None, "revoked": False}
        return token

    def remaining(self, token: str) -> int:
        return max(0, round(self.tokens[token]["expires_at"] - self.now()))

    def _alive(self, token: str | None) -> bool:
        return bool(token) and self.check_token(token, self.tokens[token]["platform"]) is None

    def issue_mp_token(self) -> str:
        """/cgi-bin/token: always a new token; the previous one lives on for FAKE_TOKEN_GRACE seconds."""
        if self.mp_current and self.mp_current in self.tokens:
            rec = self.tokens[self.mp_current]
            rec["superseded_until"] = self.now() + self.settings["FAKE_TOKEN_GRACE"]
        self.mp_current = self._new_token("mp", "token")
        return self.mp_current

    def issue_mp_stable_token(self, force_refresh: bool) -> str:
        """/cgi-bin/stable_token: the same token until it expires; force_refresh replaces it at once."""
        if self.mp_stable and self._alive(self.mp_stable) and not force_refresh:
            return self.mp_stable
        if self.mp_stable and self.mp_stable in self.tokens:
            self.tokens[self.mp_stable]["superseded_until"] = self.now()
        self.mp_stable = self._new_token("mp", "stable")
        return self.mp_stable

    def issue_work_token(self, corpid: str, secret: str) -> str:
        """gettoken: the same token while it is valid (as WeCom documents), a new one after."""
        key = (corpid, secret)
        current = self.work_current.get(key)
        if current and self._alive(current):
            return current
        self.work_current[key] = self._new_token("work", "token")
        return self.work_current[key]

    def issue_oauth_token(self, platform: str) -> str:
        return self._new_token(platform, "oauth")

    def check_token(self, token: str | None, platform: str) -> str | None:
        """None when usable, else "missing" | "invalid" | "expired"."""
        if not token:
            return "missing"
        rec = self.tokens.get(token)
        if rec is None or rec["platform"] != platform or rec["kind"] == "oauth" or rec["revoked"]:
            return "invalid"
        now = self.now()
        if rec["superseded_until"] is not None and now >= rec["superseded_until"]:
            return "invalid"
        if now >= rec["expires_at"]:
            return "expired"
        return None

    def revoke_tokens(self, platform: str | None, *, expire: bool = False) -> int:
        count = 0
        for rec in self.tokens.values():
            if platform in (None, rec["platform"]) and rec["kind"] != "oauth":
                if expire:
                    rec["expires_at"] = min(rec["expires_at"], self.now())
                else:
                    rec["revoked"] = True
                count += 1
        return count

    # --- OAuth codes -----------------------------------------------------------------------------------------
    def issue_code(self, platform: str, **identity) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"platform": platform, "created": self.now(), "used": False, **identity}
        return code

    def take_code(self, code: str | None, platform: str) -> tuple[str | None, dict | None]:
        """("ok", record) once; ("used", None) after; ("invalid", None) when unknown, foreign or expired."""
        rec = self.codes.get(code or "")
        if rec is None or rec["platform"] != platform:
            return "invalid", None
        if self.now() - rec["created"] > self.settings["FAKE_CODE_TTL"]:
            return "invalid", None
        if rec["used"]:
            return "used", None
        rec["used"] = True
        return "ok", rec

    # --- faults ----------------------------------------------------------------------------------------------
    def take_fault(self, path: str) -> dict | None:
        for fault in self.faults:
            pattern = fault["path"]
            matches = path.startswith(pattern[:-1]) if pattern.endswith("*") else path == pattern
            if matches:
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                fault = dict(fault)
                fault["fired_at"] = self.now()
                return fault
        return None
