"""HTTP handlers of the gate, one module per resource; ``route_tables`` lists them all."""

from aiohttp import web

from dlsync.gate.routes import (
    admin,
    annotations,
    datasets,
    export,
    items,
    projects,
    queries,
    recipes,
    tasks,
    upload,
    users,
)


def route_tables() -> list[web.RouteTableDef]:
    """Every route table, to be added to the gate's application."""
    return [users.routes, projects.routes, datasets.routes, queries.routes, items.routes,
            annotations.routes, admin.routes, upload.routes, export.routes, recipes.routes,
            tasks.routes]
