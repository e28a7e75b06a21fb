"""GitHub's REST API (docs.github.com/en/rest): open issues, comment on them, list the user's
repositories. Calls name the media type and API version GitHub asks for."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, ActionError, result_of
from shared.infra.outbound import OutboundResponse

API_VERSION = "2022-11-28"
_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
_OWNER = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
_REPO = r"^[A-Za-z0-9._-]{1,100}$"


def _repo_name(value: str) -> str:
    # "." and ".." would climb out of /repos/{owner}/ in the path.
    if value in (".", ".."):
        raise ValueError("not a repository name")
    return value


RepoName = Annotated[
    str, Field(pattern=_REPO, description="The repository's name"), AfterValidator(_repo_name)
]


def _header(response: OutboundResponse, name: str) -> str | None:
    return next((v for k, v in response.headers.items() if k.lower() == name), None)


def github_result(response: OutboundResponse) -> Any:
    """The parsed body, or the ActionError the status means. GitHub answers an exhausted rate
    limit with 403 (or 429) and ``x-ratelimit-remaining: 0``: retryable after the reset time
    (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api)."""
    if response.status in (403, 429):
        retry_after = _header(response, "retry-after")
        reset = _header(response, "x-ratelimit-reset")
        if retry_after is not None or _header(response, "x-ratelimit-remaining") == "0":
            try:
                wait = float(retry_after) if retry_after else float(reset or 60) - time.time()
            except ValueError:
                wait = 60.0
            raise ActionError(
                "retryable",
                f"GitHub is rate limiting ({response.status})",
                status=response.status,
                retry_after=max(0.0, wait),
            )
    return result_of(response)


class CreateIssueInput(BaseModel):
    """An issue to open in a repository."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(pattern=_OWNER, description="The repository's owner (user or org)")
    repo: RepoName
    title: str = Field(min_length=1, max_length=256, description="The issue's title")
    body: str | None = Field(default=None, max_length=65536, description="Markdown body")
    labels: list[str] = Field(default_factory=list, max_length=100, description="Label names")
    assignees: list[str] = Field(default_factory=list, max_length=10, description="Logins")


class AddIssueCommentInput(BaseModel):
    """A comment on an issue or pull request."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(pattern=_OWNER, description="The repository's owner (user or org)")
    repo: RepoName
    issue_number: int = Field(ge=1, description="The issue's (or pull request's) number")
    body: str = Field(min_length=1, max_length=65536, description="Markdown comment")


class ListReposInput(BaseModel):
    """One page of the repositories the connected user can reach."""

    model_config = ConfigDict(extra="forbid")

    visibility: Literal["all", "public", "private"] = Field(default="all", description="Filter")
    sort: Literal["created", "updated", "pushed", "full_name"] = Field(
        default="full_name", description="Sort order"
    )
    per_page: int = Field(default=30, ge=1, le=100, description="Repositories per page")
    page: int = Field(default=1, ge=1, description="Page number")


def _issue(issue: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": issue.get("id"),
        "number": issue.get("number"),
        "title": issue.get("title"),
        "state": issue.get("state"),
        "html_url": issue.get("html_url"),
        "labels": [label.get("name") for label in issue.get("labels", [])],
        "assignees": [user.get("login") for user in issue.get("assignees", [])],
        "created_at": issue.get("created_at"),
    }


def _repo(repo: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": repo.get("id"),
        "name": repo.get("name"),
        "full_name": repo.get("full_name"),
        "owner": (repo.get("owner") or {}).get("login"),
        "private": repo.get("private"),
        "html_url": repo.get("html_url"),
        "default_branch": repo.get("default_branch"),
    }


async def _create_issue(ctx: ActionContext, data: CreateIssueInput) -> Any:
    payload = data.model_dump(include={"title", "body", "labels", "assignees"}, exclude_none=True)
    path = f"/repos/{data.owner}/{data.repo}/issues"
    return _issue(github_result(await ctx.call_api("POST", path, json=payload, headers=_HEADERS)))


async def _add_issue_comment(ctx: ActionContext, data: AddIssueCommentInput) -> Any:
    path = f"/repos/{data.owner}/{data.repo}/issues/{data.issue_number}/comments"
    response = await ctx.call_api("POST", path, json={"body": data.body}, headers=_HEADERS)
    comment = github_result(response)
    return {k: comment.get(k) for k in ("id", "html_url", "body", "created_at")}


async def _list_repos(ctx: ActionContext, data: ListReposInput) -> Any:
    params = {k: str(v) for k, v in data.model_dump().items()}
    repos = github_result(await ctx.call_api("GET", "/user/repos", params=params, headers=_HEADERS))
    return {"repositories": [_repo(r) for r in repos], "page": data.page}


ACTIONS = (
    Action(
        "github.create_issue",
        "github",
        CreateIssueInput,
        _create_issue,
        "Open an issue in a GitHub repository",
    ),
    Action(
        "github.add_issue_comment",
        "github",
        AddIssueCommentInput,
        _add_issue_comment,
        "Comment on a GitHub issue or pull request",
    ),
    Action(
        "github.list_repos",
        "github",
        ListReposInput,
        _list_repos,
        "List the repositories the connected user can access",
    ),
)
