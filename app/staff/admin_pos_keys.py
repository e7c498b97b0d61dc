"""/staff/v1/admin/stores/{id}/pos-keys (admin): the keys a store's POS signs with."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.pos import NewPosKeySchema, PosKeyListSchema, PosKeySchema
from app.services.pos import keys

blp = Blueprint(
    "admin_pos_keys", __name__, url_prefix="/staff/v1/admin/stores", description="POS keys"
)


@blp.route("/<int:store_id>/pos-keys")
class PosKeys(MethodView):
    @staff_required("admin")
    @blp.response(200, PosKeyListSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found (no such store)")
    def get(self, store_id):
        """The store's POS keys, newest first, revoked ones too (never their secrets): a
        store has a handful, so the list is one page."""
        return keys.list_keys(db.session, store_id)

    @staff_required("admin")
    @blp.response(201, NewPosKeySchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found (no such store)")
    def post(self, store_id):
        """A new key for the store's POS: `key_id` and `secret`, shown this once only."""
        return keys.create_key(db.session, store_id, by=g.staff)


@blp.route("/<int:store_id>/pos-keys/<string:key_id>")
class PosKeyItem(MethodView):
    @staff_required("admin")
    @blp.response(200, PosKeySchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="pos_key.not_found")
    def delete(self, store_id, key_id):
        """Revoke the key: its next request is 401 pos.key_revoked."""
        return keys.revoke_key(db.session, store_id, key_id, by=g.staff)
