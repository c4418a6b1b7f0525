from tests.conftest import login


def test_login_lands_on_role_home(client, demo):
    response = login(client, "admin")
    assert response.status_code == 302
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "示范区" in home.get_data(as_text=True)


def test_wrong_password_same_message_as_unknown_user(client, demo):
    wrong = login(client, "admin", "Wrong#Pass1")
    unknown = login(client, "nobody.here", "Wrong#Pass1")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    assert "用户名或密码错误" in unknown.get_data(as_text=True)
