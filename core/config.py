"""Configuration: defaults in code, environment overrides, validated at start-up.

Every key is documented where it is defined. Environment variables override with the ``MEDIATION_`` prefix
(``MEDIATION_SESSION_IDLE_MINUTES=10``) plus the usual ``DATABASE_URL`` and ``PORT``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

ENVIRONMENTS = ("production", "development", "test")
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work; the process must not start."""


class DefaultConfig:
    #: production | development | test. Demo data and the WeChat stand-in refuse to run in production.
    MEDIATION_ENV = "production"
    #: Flask secret for signing CSRF tokens. Must be set (MEDIATION_SECRET_KEY) in production.
    SECRET_KEY: str | None = None
    #: SQLAlchemy URL. SQLite (embedded default) or PostgreSQL (postgresql+psycopg://...).
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'mediation.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    #: SQLite waits this long for a competing writer before failing (milliseconds).
    SQLITE_BUSY_TIMEOUT_MS = 15000
    #: Encryption key for personal data: 32 hex characters (SM4, 128 bit), versioned as "v1:<hex>,v2:<hex>".
    #: The last version encrypts; all versions decrypt. Required in production.
    CRYPTO_KEYS: str | None = None
    #: Key for the blind index of ID numbers and phones (HMAC-SM3), hex. Required in production.
    BLIND_INDEX_KEY: str | None = None
    #: Key of `flask backup` files: 32 hex characters (SM4, 128 bit). Required in production. Its own key, not one
    #: of CRYPTO_KEYS: the personal-data columns stay encrypted under CRYPTO_KEYS inside the backup, so whoever
    #: holds backup media and this key still cannot read ID numbers and phones.
    BACKUP_KEY: str | None = None
    #: PostgreSQL: a URL on a server where `flask backup verify` may create and drop its scratch database
    #: (mdt_verify_<random>); empty: the server of SQLALCHEMY_DATABASE_URI. SQLite verifies in a temp file.
    BACKUP_SCRATCH_URL = ""
    #: Key signing the audit archives' checkpoints (HMAC-SM3), hex, 16–64 bytes. Required in production; its own
    #: key, so whoever holds the archives cannot forge a checkpoint with a data or backup key.
    AUDIT_ARCHIVE_KEY: str | None = None
    #: Days an audit row is kept before the retention job archives and removes it. 网络安全法 Art. 21: network logs
    #: are kept at least six months, so less than 184 is refused at start-up; more is allowed.
    AUDIT_RETENTION_DAYS = 184
    #: Where the retention job writes its signed archives; empty: <instance>/audit-archive. Back this up.
    AUDIT_ARCHIVE_DIR = ""
    #: `flask audit verify` fails when an audit row has stayed unsealed longer than this (minutes): the sealer
    #: runs every minute, so a row this old without a seal was hidden from it, backdated or the sealer stopped.
    AUDIT_SEAL_MAX_MINUTES = 10
    #: The sealer looks for unsealed rows written up to this long (minutes) before the newest sealed row, so a
    #: transaction that committed late is still found without scanning the whole table every minute.
    AUDIT_SEAL_LOOKBACK_MINUTES = 60

    # --- sessions and login (the security admin edits the policy row; these are the first defaults) ---
    SESSION_COOKIE_NAME = "mdt_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: True behind HTTPS (production); the development server speaks plain HTTP.
    SESSION_COOKIE_SECURE = True
    #: How often (seconds) a request refreshes the session's last-seen time; spares SQLite a write per request.
    SESSION_TOUCH_SECONDS = 60
    #: API tokens: the default and longest lifetime (days) of a token; it also ends with a password change.
    API_TOKEN_DAYS = 90
    #: Dual control between administrators: hours a request waits for the third administrator (and an
    #: approved device binding for its requester) before it lapses.
    ADMIN_REQUEST_TTL_HOURS = 48
    #: WeChat binding: minutes a one-time proof code sent to the grid worker's own channel stays valid.
    BINDING_PROOF_CODE_MINUTES = 10
    #: Argon2 time cost; tests lower it to keep the suite fast, the policy stays the same.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_KIB = 65536

    #: Second factor (core.accounts.factors) for the roles the security policy names. Only the test
    #: configuration switches it off (its tests switch it on); production refuses to start without it.
    SECOND_FACTOR_ENFORCED = True
    #: Rate limits {name: [hits, seconds]} overriding core.ratelimit.DEFAULT_LIMITS; env: a JSON object.
    RATE_LIMITS: dict | None = None
    #: An unmasked export (center.cases.listing.reveal_export): at most this many cases per file, and the security
    #: administrators are told of one with at least EXPORT_UNMASKED_NOTIFY_ROWS unmasked rows. Rows per person
    #: and day: RATE_LIMITS["export.unmasked_rows"] (default 1,000).
    EXPORT_UNMASKED_MAX_ROWS = 200
    EXPORT_UNMASKED_NOTIFY_ROWS = 50
    #: Reverse proxies in front of the app that set X-Forwarded-For / -Proto (the government gateway, nginx):
    #: only then is the forwarded address believed, and only that many hops of it. 0: the socket's address.
    PROXY_COUNT = 0
    #: Strict-Transport-Security max-age in seconds (production speaks HTTPS only); 0 sends no header.
    HSTS_SECONDS = 31536000
    #: Share the rate-limit counters through Redis (redis://…) instead of the database; nothing requires it.
    RATE_LIMIT_REDIS_URL = ""
    WTF_CSRF_TIME_LIMIT = None  # the CSRF token lives as long as the server-side session
    WTF_CSRF_SSL_STRICT = False  # behind government gateways the Referer is often stripped
    MAX_CONTENT_LENGTH = 50 * 1024 * 1024
    #: Centre name at the district tier (区矛调中心 or 综治中心 in some counties).
    CENTER_NAME = "社会矛盾纠纷调处化解中心"
    TIMEZONE = "Asia/Shanghai"
    #: When true, the audit guard raises if a transaction changes tier data without an AuditEntry.
    AUDIT_GUARD = False
    #: Port of the local WeChat stand-in (development only).
    FAKE_WECHAT_PORT = 5081
    #: Dispute categories (DOMAIN.md §2); None keeps the built-in list. Env: a JSON list.
    CASE_CATEGORIES: list | None = None
    #: Extra or changed statutory/local deadline rules {rule: {days, working_days, label}}; env: JSON object.
    CASE_DEADLINE_RULES: dict | None = None
    #: Which lifecycle actions start and meet each rule {rule: {starts: [...], meets: [...]}}; env: JSON.
    CASE_DEADLINE_TRIGGERS: dict | None = None
    #: Scheduler: how often a waiting `flask jobs run` process retries the lock (seconds).
    SCHEDULER_LOCK_POLL_SECONDS = 5.0

    # --- notifications (notify/) ---
    #: Absolute base of links in messages (our mobile pages), as phones reach it.
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    #: A claimed delivery is re-claimable after this; ≤ 300 so a resend stays in WeChat's 10-minute window.
    NOTIFY_LEASE_SECONDS = 120
    NOTIFY_POLL_SECONDS = 2.0
    NOTIFY_BATCH = 50
    NOTIFY_MAX_ATTEMPTS = 8
    NOTIFY_BACKOFF_BASE_SECONDS = 30
    NOTIFY_BACKOFF_MAX_SECONDS = 3600
    #: Per recipient and minute; WeCom silently drops above 30.
    NOTIFY_RATE_PER_MINUTE = 10
    #: This many due messages for one person at once become one digest.
    NOTIFY_COALESCE_THRESHOLD = 4
    NOTIFY_CHANNEL_PAUSE_SECONDS = 1800
    NOTIFY_HTTP_TIMEOUT = 5
    #: Deliver to the log channel when a user has no usable binding (development only).
    NOTIFY_LOG_FALLBACK = False
    #: WeCom (企业微信 / 政务微信) application.
    WECOM_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"
    WECOM_CORP_ID = ""
    WECOM_SECRET = ""
    WECOM_AGENT_ID = 0
    WECOM_TOKEN = ""
    WECOM_AES_KEY = ""
    #: Where case attachments are stored (outside the web root); None: <instance>/attachments.
    CASE_ATTACHMENT_DIR: str | None = None
    #: Largest attachment file accepted (bytes); the whole request is capped by MAX_CONTENT_LENGTH.
    CASE_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    #: 督办 level 2: working days the 督办通知 grants before level 3 (挂牌督办).
    CASE_SUPERVISION_GRACE_DAYS = 5
    #: Follow-up visits (回访) required after closing: 2 where the county requires 双回访.
    CASE_FOLLOW_UP_VISITS = 1
    #: WeCom web authorisation page (the browser is sent there; 政务微信 has its own host).
    WECOM_OAUTH_BASE = "https://open.weixin.qq.com/"
    #: One-time binding codes for grid workers' WeChat identities: hours until they expire.
    BINDING_CODE_TTL_HOURS = 24
    #: Web-authorisation state: minutes a started sign-in may take.
    WECHAT_OAUTH_STATE_MINUTES = 10
    #: Official Account (服务号).
    MP_API_BASE = "https://api.weixin.qq.com/cgi-bin/"
    MP_OAUTH_BASE = "https://open.weixin.qq.com/"
    MP_APP_ID = ""
    MP_SECRET = ""
    MP_TOKEN = ""
    MP_AES_KEY = ""
    #: Template for generic notifications: id and the category fields it carries.
    MP_TEMPLATE_ID = "TPL_GENERIC"
    #: Outbound proxy / CA bundle for the 政务外网 gateway (empty: direct, system CAs).
    WECHAT_HTTPS_PROXY = ""
    WECHAT_CA_BUNDLE = ""


class DevelopmentConfig(DefaultConfig):
    MEDIATION_ENV = "development"
    SECRET_KEY = "dev-only-not-secret"
    CRYPTO_KEYS = "v1:00112233445566778899aabbccddeeff"
    BLIND_INDEX_KEY = "ffeeddccbbaa99887766554433221100"
    BACKUP_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    AUDIT_ARCHIVE_KEY = "a5c3e1f7092b4d6e8f1a3c5e7092b4d6"
    SESSION_COOKIE_SECURE = False
    HSTS_SECONDS = 0  # the development server speaks plain HTTP
    AUDIT_GUARD = True
    NOTIFY_LOG_FALLBACK = True
    # The local WeChat stand-in (make run starts it): both platforms under one loopback port.
    WECOM_API_BASE = "http://127.0.0.1:5081/work/cgi-bin/"
    WECOM_CORP_ID = "wwdemo0000000001"
    WECOM_SECRET = "demo-wecom-secret"
    WECOM_AGENT_ID = 1000002
    WECOM_TOKEN = "demotoken"
    WECOM_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    WECOM_OAUTH_BASE = "http://127.0.0.1:5081/work/"
    MP_API_BASE = "http://127.0.0.1:5081/mp/cgi-bin/"
    MP_OAUTH_BASE = "http://127.0.0.1:5081/mp/"
    MP_APP_ID = "wxdemo0000000001"
    MP_SECRET = "demo-mp-secret"
    MP_TOKEN = "demotoken"
    MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class TestConfig(DevelopmentConfig):
    MEDIATION_ENV = "test"
    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 8192
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    #: The suite signs in with passwords; tests/core/test_factors.py switches the second factor on.
    SECOND_FACTOR_ENFORCED = False


_BY_ENV = {"production": DefaultConfig, "development": DevelopmentConfig, "test": TestConfig}


def _coerce(current, raw: str):
    if current is None and raw.strip()[:1] in ("[", "{"):
        import json

        return json.loads(raw)
    if isinstance(current, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    return raw


def load_config(overrides: dict | None = None) -> dict:
    """Build the config dict: class defaults for MEDIATION_ENV, then environment, then explicit overrides."""
    env = (overrides or {}).get("MEDIATION_ENV") or os.environ.get("MEDIATION_ENV", "production")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"MEDIATION_ENV must be one of {ENVIRONMENTS}, got {env!r}")
    base = _BY_ENV[env]
    cfg = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    for key in list(cfg):
        raw = os.environ.get(f"MEDIATION_{key}")
        if raw is not None and key != "MEDIATION_ENV":
            try:
                cfg[key] = _coerce(cfg[key], raw)
            except ValueError as exc:
                kind = type(cfg[key]).__name__
                raise ConfigError(f"MEDIATION_{key} must be a {kind}, got {raw!r}") from exc
    if os.environ.get("DATABASE_URL"):
        cfg["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    cfg.update(overrides or {})
    cfg["MEDIATION_ENV"] = env
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    url = cfg["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgres://"):
        raise ConfigError("DATABASE_URL must use postgresql+psycopg://, not postgres://")
    if url.startswith("postgresql://"):
        cfg["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len("postgresql://"):]
    elif not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError("only SQLite and PostgreSQL (psycopg 3) are supported")
    if cfg["MEDIATION_ENV"] == "production":
        for key in ("SECRET_KEY", "CRYPTO_KEYS", "BLIND_INDEX_KEY", "BACKUP_KEY", "AUDIT_ARCHIVE_KEY"):
            if not cfg.get(key):
                raise ConfigError(f"MEDIATION_{key} must be set in production")
        if not cfg.get("SECOND_FACTOR_ENFORCED"):
            raise ConfigError("MEDIATION_SECOND_FACTOR_ENFORCED cannot be off in production (等保三级 §8.1.4.1 d)")
        check_production_keys(cfg)
    backup_key = cfg.get("BACKUP_KEY")
    if backup_key and not re.fullmatch(r"[0-9a-fA-F]{32}", backup_key):
        raise ConfigError("MEDIATION_BACKUP_KEY must be 32 hex characters (SM4, 128 bit)")
    if int(cfg["AUDIT_RETENTION_DAYS"]) < AUDIT_RETENTION_MIN_DAYS:
        raise ConfigError(f"MEDIATION_AUDIT_RETENTION_DAYS must be at least {AUDIT_RETENTION_MIN_DAYS} "
                          f"(网络安全法第二十一条：网络日志留存不少于六个月), got {cfg['AUDIT_RETENTION_DAYS']!r}")
    archive_key = cfg.get("AUDIT_ARCHIVE_KEY")
    if archive_key:
        length = len(_hex_key("AUDIT_ARCHIVE_KEY", str(archive_key)))
        if not BLIND_INDEX_KEY_BYTES[0] <= length <= BLIND_INDEX_KEY_BYTES[1]:
            raise ConfigError("MEDIATION_AUDIT_ARCHIVE_KEY must be 16–64 bytes (32–128 hex characters)")
    for key, low, high in (("API_TOKEN_DAYS", 1, 366), ("ADMIN_REQUEST_TTL_HOURS", 1, 24 * 14),
                           ("BINDING_PROOF_CODE_MINUTES", 1, 60)):
        if not low <= int(cfg[key]) <= high:
            raise ConfigError(f"MEDIATION_{key} must be between {low} and {high}, got {cfg[key]!r}")
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)


#: Keys whose development values must never reach production: the platform's own keys, and the WeChat
#: credentials whose development values belong to the local stand-in.
DEVELOPMENT_SECRETS = ("SECRET_KEY", "CRYPTO_KEYS", "BLIND_INDEX_KEY", "BACKUP_KEY", "AUDIT_ARCHIVE_KEY",
                       "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY", "MP_SECRET", "MP_TOKEN", "MP_AES_KEY")
#: 网络安全法 Art. 21: network logs kept no less than six months (184 days covers any six calendar months).
AUDIT_RETENTION_MIN_DAYS = 184
SECRET_KEY_MIN_BYTES = 32
#: a random hex SECRET_KEY of 32+ characters shows all 16 digits but rarely fewer than 12
SECRET_KEY_MIN_DISTINCT = 10
BLIND_INDEX_KEY_BYTES = (16, 64)  # HMAC-SM3: at least 128 bits, at most one SM3 block


def weak_key_reason(key: bytes, min_distinct: float | None = None) -> str | None:
    """Why ``key`` is not random enough to be a key (None: no pattern found). A generated key of 16 or more random
    bytes practically never repeats half of its bytes, repeats a shorter pattern or steps by a constant. A text
    secret is held to ``min_distinct`` characters instead: a random hex string has only 16 to choose from."""
    n = len(key)
    if len({*key}) < (n / 2 if min_distinct is None else min_distinct):
        return "too few distinct bytes"
    if any(key == (key[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1)):
        return "a repeated pattern"
    steps = {(b - a) % 256 for a, b in zip(key, key[1:], strict=False)}
    if len(steps) == 1:
        return "sequential bytes"
    return None


def _hex_key(name: str, text: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError as exc:
        raise ConfigError(f"MEDIATION_{name} must be hexadecimal") from exc


def check_production_keys(cfg: dict) -> None:
    """Refuse to start production with a development key, a short SECRET_KEY, or SM4/HMAC keys of the wrong
    length or without the randomness of a generated key (等保三级: keys are generated, not typed in)."""
    for key in DEVELOPMENT_SECRETS:
        value = cfg.get(key)
        dev = getattr(DevelopmentConfig, key)
        if value and (value == dev or (key == "CRYPTO_KEYS" and _dev_sm4_key() in str(value).lower())):
            raise ConfigError(f"MEDIATION_{key} is the development value; production needs its own")
    secret = str(cfg["SECRET_KEY"]).encode("utf-8")
    if len(secret) < SECRET_KEY_MIN_BYTES:
        raise ConfigError(f"MEDIATION_SECRET_KEY must be at least {SECRET_KEY_MIN_BYTES} bytes in production")
    if weak_key_reason(secret, SECRET_KEY_MIN_DISTINCT):
        raise ConfigError(f"MEDIATION_SECRET_KEY is not random ({weak_key_reason(secret, SECRET_KEY_MIN_DISTINCT)}); "
                          "generate one")
    for item in str(cfg["CRYPTO_KEYS"]).split(","):
        version, _, text = item.strip().partition(":")
        sm4 = _hex_key("CRYPTO_KEYS", text)
        if len(sm4) != 16:
            raise ConfigError(f"MEDIATION_CRYPTO_KEYS key {version} must be 16 bytes (32 hex characters)")
        if weak_key_reason(sm4):
            raise ConfigError(f"MEDIATION_CRYPTO_KEYS key {version} is not random ({weak_key_reason(sm4)}); "
                              "generate one")
    blind = _hex_key("BLIND_INDEX_KEY", str(cfg["BLIND_INDEX_KEY"]))
    low, high = BLIND_INDEX_KEY_BYTES
    if not low <= len(blind) <= high:
        raise ConfigError(f"MEDIATION_BLIND_INDEX_KEY must be {low}–{high} bytes ({2 * low}–{2 * high} hex characters)")
    if weak_key_reason(blind):
        raise ConfigError(f"MEDIATION_BLIND_INDEX_KEY is not random ({weak_key_reason(blind)}); generate one")
    backup = _hex_key("BACKUP_KEY", str(cfg["BACKUP_KEY"]))
    if weak_key_reason(backup):
        raise ConfigError(f"MEDIATION_BACKUP_KEY is not random ({weak_key_reason(backup)}); generate one")
    data_keys = {_hex_key("CRYPTO_KEYS", item.strip().partition(":")[2])
                 for item in str(cfg["CRYPTO_KEYS"]).split(",") if item.strip()} | {blind}
    if backup in data_keys or any(backup in key for key in data_keys):
        # Whoever holds the backup key must not thereby read every encrypted field.
        raise ConfigError("MEDIATION_BACKUP_KEY must differ from the data keys (CRYPTO_KEYS, BLIND_INDEX_KEY)")
    archive = _hex_key("AUDIT_ARCHIVE_KEY", str(cfg["AUDIT_ARCHIVE_KEY"]))
    if weak_key_reason(archive):
        raise ConfigError(f"MEDIATION_AUDIT_ARCHIVE_KEY is not random ({weak_key_reason(archive)}); generate one")


def _dev_sm4_key() -> str:
    return DevelopmentConfig.CRYPTO_KEYS.partition(":")[2].lower()


def is_demo_allowed(cfg) -> bool:
    """Demo data and the WeChat stand-in exist only in development and test."""
    return cfg.get("MEDIATION_ENV") in ("development", "test")
