"""Credential routes: parse → command or query → respond. No business rules here.

Credentials are tenant-wide: reads need a reader role, changes an editor, erase an admin.
No response, history entry or log line ever holds a credential's data.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.openapi.datastructures import ResponseSpec

from api.access import ADMINS, AUDITORS, EDITORS, READERS, Caller, allow
from api.bodies import (
    credential_uuid_param,
    decode_id_cursor,
    etag,
    if_match_versions,
    none_match,
    pack_cursor,
    split_page,
)
from api.connection_models import usages_out
from api.connectors import sees
from api.models import CredentialList, CredentialOut, History, credential_out, history_entry
from api.openapi import (
    CredentialCreateOperation,
    CredentialPatchOperation,
    CredentialReplaceOperation,
    credential_responses,
    problems,
)
from api.params import (
    INTERNAL,
    CredentialCursor,
    CredentialPathId,
    CredentialTypeFilter,
    IfMatch,
    IfNoneMatch,
    IncludeDeletedCredentials,
    JsonBody,
    Limit,
    Version,
)
from api.params import Caller as CallerParam
from api.runtime import past_version, read, run
from domain.credentials.document import server_stamped
from domain.credentials.errors import (
    CREDENTIAL_NOT_FOUND,
    CredentialDeletedError,
    CredentialErasedError,
    CredentialNotFoundError,
    CredentialValidationError,
    CredentialVersionNotFoundError,
)
from domain.credentials.ids import decode_credential_id, encode_credential_id
from domain.credentials.state import CredentialState
from projections.credentials import CredentialQueries

CREDENTIAL_PATH = f"{INTERNAL}/credentials"
CURRENT = "private, no-cache"
IMMUTABLE = "private, max-age=3600, immutable"


def current(queries: CredentialQueries, tenant: str, uuid: UUID,
            include_deleted: bool = False) -> CredentialState:
    """The current state of a credential of the tenant: unknown and other tenants' ids answer
    the same 404, an erased one 410, a deleted one 404 ``credential-deleted`` unless asked."""
    state = queries.get(tenant, uuid)
    if state is None:
        raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND)
    if state.erased:
        raise CredentialErasedError(f"credential {state.credential_id} was erased")
    if state.deleted and not include_deleted:
        raise CredentialDeletedError(
            f"credential {state.credential_id} is deleted; add includeDeleted=true to read it")
    return state


async def _with_usages(caller: Caller, state: CredentialState) -> CredentialOut:
    """The credential with its usages in seed 003's shape (connector summaries looked up)."""
    lookup = partial(caller.registry.connectors.get, caller.tenant)

    def render() -> CredentialOut:
        return credential_out(state, usages_out(state, lookup, partial(sees, caller)))

    out: CredentialOut = await read(caller.registry, render)
    return out


async def _respond_in_use(caller: Caller, state: CredentialState) -> Response[CredentialOut]:
    """A changed credential with its usages looked up, as ``GET`` shows it."""
    return Response(await _with_usages(caller, state),
                    headers={"ETag": etag(state.revision)})


def _changed_responses() -> dict[int, ResponseSpec]:
    return problems(400, 401, 403, 404, 409, 410, 412, 413, 415, 422) | credential_responses()


def _respond(state: CredentialState, status_code: int = 200,
             headers: dict[str, str] | None = None) -> Response[CredentialOut]:
    return Response(credential_out(state), status_code=status_code,
                    headers={"ETag": etag(state.revision), **(headers or {})})


class CredentialController(Controller):
    """``/credentials``: list, read, history, versions, create, patch, replace, delete,
    restore, erase."""

    path = CREDENTIAL_PATH
    tags = ("credentials",)

    @get("/", responses=problems(401, 403, 422), summary="List credentials",
         opt=allow(READERS))
    async def list_credentials(
        self,
        caller: CallerParam,
        credential_type: CredentialTypeFilter = None,
        include_deleted: IncludeDeletedCredentials = False,
        limit: Limit = 50,
        credential_cursor: CredentialCursor = None,
    ) -> CredentialList:
        """The credentials of the caller's tenant in id order, filtered and paged."""
        after = decode_id_cursor(credential_cursor, "credentials", "crd_",
                                 decode_credential_id)
        states = await read(caller.registry, caller.registry.credentials.page, caller.tenant,
                            type=credential_type, include_deleted=include_deleted,
                            after=after, limit=limit + 1)
        page, next_cursor = split_page(states, limit,
                                       lambda s: pack_cursor("credentials", s.credential_id))
        return CredentialList(credentials=[credential_out(s) for s in page],
                              next_cursor=next_cursor)

    @get("/{id:str}", responses=problems(401, 403, 404, 410, 422)
         | credential_responses(not_modified=True), summary="Get a credential (never its data)",
         opt=allow(READERS))
    async def get_credential(
        self, caller: CallerParam, id: CredentialPathId,
        include_deleted: IncludeDeletedCredentials = False, if_none_match: IfNoneMatch = None,
    ) -> Response[Any]:
        """The current credential; ``ETag`` is its version, ``If-None-Match`` answers 304."""
        state = await read(caller.registry, current, caller.registry.credentials,
                           caller.tenant, credential_uuid_param(id), include_deleted)
        headers = {"ETag": etag(state.revision), "Cache-Control": CURRENT}
        if none_match(if_none_match, state.revision):
            return Response(b"", status_code=304, headers=headers)
        return Response(await _with_usages(caller, state), headers=headers)

    @get("/{id:str}/history", responses=problems(401, 403, 404),
         summary="Credential change history", opt=allow(AUDITORS))
    async def get_credential_history(self, caller: CallerParam,
                                     id: CredentialPathId) -> History:
        """Every version with who changed what and when, newest first; never a value."""
        uuid = credential_uuid_param(id)
        queries = caller.registry.credentials
        if await read(caller.registry, queries.head, caller.tenant, uuid) is None:
            raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND)
        revisions = await read(caller.registry, queries.history, caller.tenant, uuid)
        return History(history=[history_entry(r) for r in revisions])

    @get("/{id:str}/versions/{version:str}",
         responses=problems(401, 403, 404, 410) | credential_responses(),
         summary="A credential exactly as it was at a version", opt=allow(READERS))
    async def get_credential_version(
        self, caller: CallerParam, id: CredentialPathId, version: Version
    ) -> Response[Any]:
        """An immutable past version (never its data); erased versions answer 410."""
        uuid = credential_uuid_param(id)
        queries = caller.registry.credentials
        head = await read(caller.registry, queries.head, caller.tenant, uuid)
        if head is None:
            raise CredentialNotFoundError(CREDENTIAL_NOT_FOUND)
        state = await past_version(
            caller.registry, partial(queries.version, caller.tenant, uuid), version,
            kind="credential", public_id=encode_credential_id(uuid),
            erased_through=head.erased_through, missing=CredentialVersionNotFoundError,
            erased=CredentialErasedError)
        return Response(credential_out(state), headers={"ETag": etag(int(version)),
                                                        "Cache-Control": IMMUTABLE})

    @post("/", responses=problems(400, 401, 403, 413, 415, 422) | credential_responses(),
          summary="Create a credential", operation_class=CredentialCreateOperation,
          opt=allow(EDITORS))
    async def create_credential(
        self, caller: CallerParam, document: JsonBody
    ) -> Response[CredentialOut]:
        """Create a credential (``crd_`` id) with its data, which is never shown again."""
        stamped = server_stamped(document)
        if stamped:
            raise CredentialValidationError(stamped)
        state = await run(caller.registry.app.create_credential, caller.access, document)
        return _respond(state, 201, {"Location": f"{CREDENTIAL_PATH}/{state.credential_id}"})

    @patch("/{id:str}", responses=_changed_responses(),
           summary="Change a credential with a merge patch (RFC 7396)",
           operation_class=CredentialPatchOperation, opt=allow(EDITORS))
    async def patch_credential(
        self, caller: CallerParam, document: JsonBody, id: CredentialPathId,
        if_match: IfMatch = None,
    ) -> Response[CredentialOut]:
        """Merge the patch into the current document; ``data`` rotates the data."""
        state, _ = await run(caller.registry.app.update_credential, caller.access,
                             credential_uuid_param(id), document, if_match_versions(if_match),
                             patch=True)
        return await _respond_in_use(caller, state)

    @put("/{id:str}", responses=_changed_responses(), summary="Replace a credential",
         operation_class=CredentialReplaceOperation, opt=allow(EDITORS))
    async def replace_credential(
        self, caller: CallerParam, document: JsonBody, id: CredentialPathId,
        if_match: IfMatch = None,
    ) -> Response[CredentialOut]:
        """Full replacement; ``data`` left out keeps the current data."""
        state, _ = await run(caller.registry.app.update_credential, caller.access,
                             credential_uuid_param(id), document, if_match_versions(if_match),
                             patch=False)
        return await _respond_in_use(caller, state)

    @delete("/{id:str}", responses=problems(401, 403, 404, 410, 422),
            summary="Delete a credential", opt=allow(EDITORS))
    async def delete_credential(self, caller: CallerParam, id: CredentialPathId) -> None:
        """Soft delete: hidden, restorable, history kept."""
        await run(caller.registry.app.delete_credential, caller.access,
                  credential_uuid_param(id))

    @post("/{id:str}/restore", status_code=200,
          responses=problems(401, 403, 404, 409, 410) | credential_responses(),
          summary="Restore a deleted credential", opt=allow(EDITORS))
    async def restore_credential(
        self, caller: CallerParam, id: CredentialPathId
    ) -> Response[CredentialOut]:
        """Bring a soft-deleted (or expired) credential back as a new version."""
        state = await run(caller.registry.app.restore_credential, caller.access,
                          credential_uuid_param(id))
        return await _respond_in_use(caller, state)

    @delete("/{id:str}/erase", responses=problems(401, 403, 404, 410),
            summary="Erase a credential and its data for good", opt=allow(ADMINS))
    async def erase_credential(self, caller: CallerParam, id: CredentialPathId) -> None:
        """Destroy the data (its key) and the content; only an erase record stays."""
        await run(caller.registry.app.erase_credential, caller.access,
                  credential_uuid_param(id))
