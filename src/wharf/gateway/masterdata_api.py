"""Master data upserts on the internal listener: ``POST /internal/v1/masterdata/{entity}``.

Entities: ``suppliers``, ``items``, ``prices``, ``warehouses``, ``customer-orders``. The body is
one record or a JSON array of them, in the canonical shapes (``wharf.model.Supplier``,
``Item``, and the business records); ``?source=`` names the system writing (default ``erp``).
Attribute ownership is enforced: a system that does not own an attribute may not change it
(409). Each record answers ``created``, ``updated`` or ``unchanged``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wharf.business import CustomerOrder, MasterDataError, OwnershipError, PriceEntry, Warehouse
from wharf.gateway.problems import problem
from wharf.model import Item, Supplier
from wharf.pointers import locate

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from wharf.business import MasterData

__all__ = ("masterdata_routes",)


def _upserts(master: MasterData) -> dict[str, tuple[type[Any], Callable[..., Awaitable[Any]]]]:
    return {
        "suppliers": (Supplier, master.upsert_supplier),
        "items": (Item, master.upsert_item),
        "prices": (PriceEntry, master.upsert_price),
        "warehouses": (Warehouse, master.upsert_warehouse),
        "customer-orders": (CustomerOrder, master.upsert_customer_order),
    }


def masterdata_routes(master: MasterData) -> list[Route]:
    upserts = _upserts(master)

    async def upsert(request: Request) -> Response:
        entity = request.path_params["entity"]
        if entity not in upserts:
            return problem(404, "not-found", "Not found",
                           f"no master-data entity {entity!r}; one of {', '.join(upserts)}")
        record_type, apply = upserts[entity]
        source = request.query_params.get("source", "erp")
        try:
            raw = msgspec.json.decode(await request.body())
            records = msgspec.convert(raw if isinstance(raw, list) else [raw],
                                      type=list[record_type])  # type: ignore[valid-type]
        except msgspec.ValidationError as exc:
            where = locate(exc)
            return problem(422, "invalid-record", "Invalid record", where.message,
                           pointer=where.pointer)
        except msgspec.DecodeError as exc:
            return problem(400, "malformed-record", "Malformed record", str(exc), pointer="")
        results = []
        for index, record in enumerate(records):
            try:
                change = await apply(record, source=source)
            except OwnershipError as exc:
                return problem(409, "not-the-owner", "Not the owner", str(exc),
                               pointer=f"/{index}")
            except MasterDataError as exc:
                return problem(422, "invalid-record", "Invalid record", str(exc),
                               pointer=f"/{index}")
            results.append(str(change))
        return JSONResponse({"entity": entity, "source": source, "results": results})

    return [Route("/internal/v1/masterdata/{entity}", upsert, methods=["POST"])]
