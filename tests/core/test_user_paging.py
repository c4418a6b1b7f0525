"""The admin's user list pages on by username: every user in reach is shown once, none twice."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from core.accounts.models import User


def test_every_user_is_reached_page_by_page(db, login_as, client):
    login_as("admin")
    seen: list[str] = []
    url = "/admin/users"
    for _ in range(20):
        html = client.get(url).get_data(as_text=True)
        seen += re.findall(r'<td data-label="用户名"><a href="/admin/users/\d+">([^<]+)</a>', html)
        more = re.search(r'href="(/admin/users\?after=[^"]+)"', html)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen)), "a user shown twice"
    assert seen == sorted(seen)
    assert len(seen) == db.session.scalar(select(func.count(User.id))) > 100
