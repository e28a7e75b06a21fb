"""Workflows: ``/v1/workflows``."""

from __future__ import annotations

from services.gateway.endpoints import Call, Reply, Router
from shared.errors import not_found
from shared.schemas import Deleted, Page
from shared.workflows import service as workflows
from shared.workflows import store
from shared.workflows.schemas import WorkflowCreate, WorkflowRead

router = Router("workflows")


@router.route(
    "POST",
    "/v1/workflows",
    summary="Create a workflow (validated whole)",
    body=WorkflowCreate,
    response=WorkflowRead,
    status=201,
)
async def create_workflow(call: Call, body: WorkflowCreate) -> Reply:
    res = call.resources
    saved = await workflows.save_workflow(
        pool=res.pool, caches=res.caches, catalog=res.catalog, tenant=call.tenant, body=body
    )
    return Reply(WorkflowRead.of(saved), 201)


@router.route("GET", "/v1/workflows", summary="Every workflow", response=Page[WorkflowRead])
async def list_workflows(call: Call) -> Page[WorkflowRead]:
    found = await store.list_workflows(call.resources.pool, tenant=call.tenant)
    return Page[WorkflowRead](data=[WorkflowRead.of(w) for w in found], next_cursor=None)


@router.route("GET", "/v1/workflows/{workflow_id}", summary="One workflow", response=WorkflowRead)
async def get_workflow(call: Call) -> WorkflowRead:
    found = await store.get_workflow(
        call.resources.pool, tenant=call.tenant, workflow_id=call.path_id("workflow_id", "workflow")
    )
    if found is None:
        raise not_found("workflow")
    return WorkflowRead.of(found)


@router.route(
    "PUT",
    "/v1/workflows/{workflow_id}",
    summary="Replace a workflow (validated whole)",
    body=WorkflowCreate,
    response=WorkflowRead,
)
async def replace_workflow(call: Call, body: WorkflowCreate) -> WorkflowRead:
    res = call.resources
    saved = await workflows.save_workflow(
        pool=res.pool,
        caches=res.caches,
        catalog=res.catalog,
        tenant=call.tenant,
        body=body,
        workflow_id=call.path_id("workflow_id", "workflow"),
    )
    return WorkflowRead.of(saved)


@router.route(
    "DELETE",
    "/v1/workflows/{workflow_id}",
    summary="Delete a workflow and its executions",
    response=Deleted,
)
async def delete_workflow(call: Call) -> Deleted:
    if not await store.delete_workflow(
        call.resources.pool, tenant=call.tenant, workflow_id=call.path_id("workflow_id", "workflow")
    ):
        raise not_found("workflow")
    return Deleted()
