"""A fake of GitHub's REST API (docs.github.com/en/rest) below ``https://api.github.com``:
``POST /repos/{owner}/{repo}/issues``, ``POST /repos/{owner}/{repo}/issues/{n}/comments``,
``GET /user/repos``.

Errors have GitHub's shape ``{"message", "documentation_url", "status"}``: 401 ``Requires
authentication`` / ``Bad credentials``, 403 without a User-Agent, 400 for an unsupported
``X-GitHub-Api-Version``, 404 ``Not Found`` for an unknown repository or issue, 422
``Validation Failed`` with ``errors`` (a missing title or body, an assignee who is not a
collaborator, a bad ``visibility``), and 403 with ``x-ratelimit-remaining: 0`` and
``x-ratelimit-reset`` once the primary rate limit is used up.

``state.data``: ``repos`` (by ``owner/name``: ``id``, ``private``, ``collaborators``,
``issues`` by number), ``rate_limit_reset``: an epoch second; the next call answers the
rate-limit 403 with it."""

from __future__ import annotations

import itertools
import zlib
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

LOGIN = "octocat"
API_VERSIONS = frozenset({"2022-11-28", "2026-03-10"})
_DOCS = "https://docs.github.com/rest"
_ids = itertools.count(1001)


def _seed(state: AppState) -> None:
    state.data.setdefault(
        "repos",
        {
            "octo-org/hello-world": {
                "id": 1296269,
                "private": False,
                "collaborators": {LOGIN, "hubot"},
                "issues": {},
            },
            "octocat/secret-plans": {
                "id": 1296270,
                "private": True,
                "collaborators": {LOGIN},
                "issues": {},
            },
        },
    )


def _error(status: int, message: str, **extra: Any) -> web.Response:
    body = {"message": message, "documentation_url": _DOCS, "status": str(status), **extra}
    return web.json_response(body, status=status)


def _refusal(request: web.Request, state: AppState) -> web.Response | None:
    if "rate_limit_reset" in state.data:
        reset = str(state.data.pop("rate_limit_reset"))
        body = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": _DOCS}
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
        return web.json_response(body, status=403, headers=headers)
    if "User-Agent" not in request.headers:
        return _error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a "
            "User-Agent header.",
        )
    if "Authorization" not in request.headers:
        return _error(401, "Requires authentication")
    if not state.authorized(request):
        return _error(401, "Bad credentials")
    version = request.headers.get("X-GitHub-Api-Version")
    if version is not None and version not in API_VERSIONS:
        return _error(400, f"Unsupported 'X-GitHub-Api-Version' header: {version}")
    return None


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": zlib.crc32(login.encode()) % 10**7, "type": "User"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Issues, issue comments and the user's repositories."""
    _seed(state)
    repos: dict[str, dict[str, Any]] = state.data["repos"]

    @routes.post(f"{prefix}/repos/{{owner}}/{{repo}}/issues")
    async def create_issue(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        full_name = f"{request.match_info['owner']}/{request.match_info['repo']}"
        repo = repos.get(full_name)
        if repo is None:
            return _error(404, "Not Found")
        body = call.body if isinstance(call.body, dict) else {}
        if not body.get("title"):
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
            )
        for login in body.get("assignees", []):
            if login not in repo["collaborators"]:
                return _error(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "value": login,
                            "resource": "Issue",
                            "field": "assignees",
                            "code": "invalid",
                        }
                    ],
                )
        number = len(repo["issues"]) + 1
        issue = {
            "id": next(_ids),
            "node_id": f"I_fake{number}",
            "url": f"https://api.github.com/repos/{full_name}/issues/{number}",
            "html_url": f"https://github.com/{full_name}/issues/{number}",
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body"),
            "user": _user(LOGIN),
            "labels": [
                {"id": next(_ids), "name": name, "color": "ededed", "default": False}
                for name in body.get("labels", [])
            ],
            "assignees": [_user(login) for login in body.get("assignees", [])],
            "comments": 0,
            "created_at": _now(),
            "updated_at": _now(),
        }
        repo["issues"][number] = issue
        return web.json_response(issue, status=201)

    @routes.post(f"{prefix}/repos/{{owner}}/{{repo}}/issues/{{number}}/comments")
    async def add_comment(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        full_name = f"{request.match_info['owner']}/{request.match_info['repo']}"
        repo = repos.get(full_name)
        number = request.match_info["number"]
        issue = repo["issues"].get(int(number)) if repo and number.isdigit() else None
        if issue is None:
            return _error(404, "Not Found")
        body = call.body if isinstance(call.body, dict) else {}
        if not body.get("body"):
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "code": "missing_field", "field": "body"}],
            )
        issue["comments"] += 1
        comment_id = next(_ids)
        return web.json_response(
            {
                "id": comment_id,
                "node_id": f"IC_fake{comment_id}",
                "url": f"https://api.github.com/repos/{full_name}/issues/comments/{comment_id}",
                "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
                "issue_url": issue["url"],
                "body": body["body"],
                "user": _user(LOGIN),
                "created_at": _now(),
                "updated_at": _now(),
            },
            status=201,
        )

    @routes.get(f"{prefix}/user/repos")
    async def user_repos(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (refused := _refusal(request, state)) is not None:
            return refused
        visibility = call.query.get("visibility", "all")
        if visibility not in ("all", "public", "private"):
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Search", "field": "visibility", "code": "invalid"}],
            )
        per_page = min(int(call.query.get("per_page", 30)), 100)  # GitHub caps at 100
        page = max(int(call.query.get("page", 1)), 1)
        listed = sorted(
            (
                (name, repo)
                for name, repo in repos.items()
                if visibility == "all" or repo["private"] == (visibility == "private")
            ),
            key=lambda item: item[0],
        )
        chosen = listed[(page - 1) * per_page : page * per_page]
        return web.json_response(
            [
                {
                    "id": repo["id"],
                    "node_id": f"R_fake{repo['id']}",
                    "name": name.split("/")[1],
                    "full_name": name,
                    "owner": _user(name.split("/")[0]),
                    "private": repo["private"],
                    "html_url": f"https://github.com/{name}",
                    "url": f"https://api.github.com/repos/{name}",
                    "default_branch": "main",
                }
                for name, repo in chosen
            ]
        )
