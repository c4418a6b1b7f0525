"""A user's own notification settings: channel order, quiet hours, muted event types."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.auth.decorators import permission
from core.schemas import BaseSchema, fields, one_of, regexp
from core.web import current_actor, form_data, submit
from notify.models import CHANNEL_LABELS, Channel

bp = Blueprint("notify_prefs", __name__, url_prefix="/account/notifications", template_folder="templates")

#: Event types a user may mute (urgent messages are never muted). Features add theirs here.
MUTABLE_EVENTS = {"demo.welcome": "系统欢迎与使用提示", "notify.digest": "待办汇总提醒"}
CHANNEL_CHOICES = [c.value for c in Channel if c != Channel.log]
DIGEST_CHOICES = [""] + [str(h) for h in range(24)]
HHMM = regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "请按 21:30 的格式填写时间")


class PreferenceArgs(BaseSchema):
    first = fields.String(required=True, validate=one_of(CHANNEL_CHOICES))
    second = fields.String(load_default=None, validate=one_of(CHANNEL_CHOICES))
    third = fields.String(load_default=None, validate=one_of(CHANNEL_CHOICES))
    quiet_start = fields.String(required=True, validate=HHMM)
    quiet_end = fields.String(required=True, validate=HHMM)
    muted = fields.List(fields.String(validate=one_of(list(MUTABLE_EVENTS))), load_default=list)
    #: "" = each message at once; "0".."23" = ordinary messages held for one daily digest at that hour
    digest_hour = fields.String(load_default="", validate=one_of(DIGEST_CHOICES))


def _form(pref) -> dict:
    channels = list(pref.channels or []) + [None, None, None]
    return {"first": channels[0], "second": channels[1] or "", "third": channels[2] or "",
            "quiet_start": pref.quiet_start, "quiet_end": pref.quiet_end, "muted": list(pref.muted_events or []),
            "digest_hour": "" if pref.digest_hour is None else str(pref.digest_hour)}


@bp.route("/", methods=["GET", "POST"])
@permission("account.self")
def edit():
    from notify.bindings import preference_of
    from notify.operations import update_preferences

    user = current_user._get_current_object()
    ctx = {"channel_options": [(c, CHANNEL_LABELS[Channel(c)]) for c in CHANNEL_CHOICES], "events": MUTABLE_EVENTS,
           "digest_options": [("", "收到即推送")] + [(str(h), f"每天 {h:02d}:00 汇总推送") for h in range(24)]}
    if request.method == "GET":
        return render_template("notify/preferences.html", form=_form(preference_of(user.id)), errors={}, **ctx)

    def perform(args):
        hour = args.pop("digest_hour", "")
        update_preferences(user, actor=current_actor(), digest_hour=int(hour) if hour else None, **args)
        flash("消息设置已保存", "success")
        return redirect(url_for("notify_prefs.edit"))

    data = form_data()
    data["muted"] = request.form.getlist("muted")  # checkboxes: always a list, even with one ticked
    return submit(PreferenceArgs(), perform, "notify/preferences.html", data=data, **ctx)
