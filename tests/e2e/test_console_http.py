"""The console over the local stack's HTTP without a browser: the link `make run` prints, the front door, and
API Gateway's `$default` route answering unknown paths of every method with the 404 page."""

import requests


def test_make_run_prints_the_console_link(stack):
    assert f"Admin console:    {stack.url}/admin?subdomain=acme" in stack.log_text()


def test_the_front_door_and_the_404_page_answer_html_for_every_method(stack):
    home = requests.get(f"{stack.url}/", timeout=30)
    assert home.status_code == 200 and "Sign in with Zendesk" in home.text
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]
    for method in ("GET", "POST", "PUT", "DELETE"):
        for path in ("/nowhere", "/admin/nowhere", "/oauth/nowhere"):
            answer = requests.request(method, f"{stack.url}{path}", timeout=30)
            assert answer.status_code == 404, (method, path)
            assert answer.headers["Content-Type"].startswith("text/html") and "Page not found" in answer.text
    # the other functions' routes are still theirs
    assert requests.get(f"{stack.url}/oauth/start", timeout=30).status_code == 400
    assert requests.post(f"{stack.url}/webhooks/zendesk/acme", data="{}", timeout=30).status_code in (400, 401, 403)
