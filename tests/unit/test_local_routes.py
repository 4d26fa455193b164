"""The local stack routes as API Gateway does: exact paths, then path variables, then greedy ones, then `$default`."""

from round_robin_local.functions import Route


def test_routes_sort_by_api_gateway_precedence():
    routes = [Route.of("ANY", "$default"), Route.of("ANY", "/admin/{proxy+}"),
              Route.of("POST", "/webhooks/zendesk/{s}"), Route.of("GET", "/admin"), Route.of("GET", "/")]
    ordered = [r.path for r in sorted(routes, key=lambda r: r.precedence)]
    assert ordered == ["/admin", "/", "/webhooks/zendesk/{s}", "/admin/{proxy+}", "$default"]


def test_the_default_route_matches_any_path_and_a_greedy_variable_its_children_only():
    assert Route.of("ANY", "$default").pattern.match("/anything/at/all")
    greedy = Route.of("ANY", "/admin/{proxy+}").pattern
    assert greedy.match("/admin/agents/12").group("proxy") == "agents/12"
    assert not greedy.match("/admin") and not greedy.match("/administrator")
