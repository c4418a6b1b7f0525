"""Login, logout, own profile and password change."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_user, logout_user

from core.accounts import operations
from core.accounts.policy import current_policy
from core.accounts.schemas import ChangePasswordArgs, LoginArgs
from core.audit.operations import record
from core.auth.decorators import permission, public
from core.errors import ValidationFailed
from core.ratelimit import RateLimited
from core.web import commit, current_actor, form_data, load_form, safe_next, submit

bp = Blueprint("accounts", __name__)

#: Set on this device by signing out; while present, WeChat's silent sign-in is skipped (notify.wechat.signin).
SIGNED_OUT_COOKIE = "mdt_signed_out"
SIGNED_OUT_MAX_AGE = 400 * 24 * 3600


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    from flask import request

    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("home.index"))
    expired = getattr(session, "expired", False)
    if request.method == "GET":
        return render_template("core/login.html", form={"next": request.args.get("next", "")}, errors={},
                               expired=expired)
    try:
        args = load_form(LoginArgs())
        user = operations.authenticate(args["username"], args["password"], actor=current_actor())
    except ValidationFailed as exc:
        return render_template("core/login.html", form=form_data(), errors=exc.errors), 422
    except operations.LoginRefused as exc:
        form = form_data()
        form.pop("password", None)
        return render_template("core/login.html", form=form, errors={}, refused=exc.message), 401
    except RateLimited as exc:
        form = form_data()
        form.pop("password", None)
        return (render_template("core/login.html", form=form, errors={}, refused=exc.message), 429,
                {"Retry-After": str(exc.retry_after)})
    from core.accounts import factors

    if factors.is_required(user):
        # The password was right; the session begins only after the second factor (factor_views).
        from core.accounts.factor_views import begin_second_step

        return begin_second_step(user, args.get("next"))
    return complete_sign_in(user, args.get("next"))


def complete_sign_in(user, next_url: str | None, *, factor: str | None = None):
    """Begin the user's session (a fresh id: nothing from before sign-in carries over), audited; ``factor``:
    the second factor just given ("totp" | "recovery"), remembered as fresh for step-up."""
    import time

    from core.actor import Actor

    session.clear()
    session.regenerate()
    login_user(user)
    if factor:
        session["factor_at"] = int(time.time())
    here = current_actor()
    record(Actor.for_user(user, ip=here.ip, request_id=here.request_id, client_request_id=here.client_request_id),
           "login", user)
    commit()
    response = redirect(safe_next(next_url, url_for("home.index")))
    response.delete_cookie(SIGNED_OUT_COOKIE)  # an explicit sign-in on this device re-allows silent sign-in
    return response


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        record(current_actor(), "logout", current_user._get_current_object())
        commit()
    logout_user()
    session.destroy()  # the flash store goes with it: the login page shows the farewell from the query
    response = redirect(url_for("accounts.login", bye=1))
    # Village phones are shared: after signing out here, opening one of our links inside WeChat must not sign
    # the bound grid worker in again silently, until someone signs in on this device with a password.
    response.set_cookie(SIGNED_OUT_COOKIE, "1", max_age=SIGNED_OUT_MAX_AGE, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", True))
    return response


@bp.route("/account")
@permission("account.self")
def profile():
    from core import hooks

    return render_template("core/profile.html", policy=current_policy(), account_links=hooks.account_links)


@bp.route("/account/password", methods=["GET", "POST"])
@permission("account.self")
def change_password():
    from flask import request

    from core.accounts.operations import password_expired

    user = current_user._get_current_object()
    ctx = {"forced": password_expired(user), "policy": current_policy()}
    if request.method == "GET":
        return render_template("core/change_password.html", form={}, errors={}, **ctx)

    def perform(args):
        if args["new_password"] != args["confirm_password"]:
            raise ValidationFailed({"confirm_password": ["两次输入的新密码不一致"]})
        operations.change_password(user, current=args["current_password"], new=args["new_password"],
                                   actor=current_actor())
        session.regenerate()  # every session was ended; this device continues on a new one
        flash("密码已修改，其他设备上的登录已全部退出", "success")
        return redirect(url_for("home.index"))

    return submit(ChangePasswordArgs(), perform, "core/change_password.html", **ctx)
