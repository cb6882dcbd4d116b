"""Key pairs (``os-keypairs``): Nova's shapes, generated keys, fingerprints.

A key pair belongs to a user (``user_id``) and is unique by name for that user. Created
without ``public_key``, Fermion generates an RSA 2048 key with ``cryptography`` and returns
the private key once (PEM), as Nova does at microversion 2.1; with one, the key is parsed
(OpenSSH ``ssh-rsa``, ``ssh-ed25519``, ``ecdsa-sha2-*``) and its fingerprint computed (MD5
of the key blob, colon-separated, as Nova shows it).
"""

from __future__ import annotations

import base64
import hashlib
import string

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from fermion.compute.http import ComputeError, bad, conflict, not_found
from fermion.compute.store import now
from fermion.compute.tables import key_pairs as K

SAFE_NAME_CHARS = set(string.ascii_letters + string.digits + "-_ ")


def check_name(name: str) -> None:
    if not set(name) <= SAFE_NAME_CHARS:
        raise bad("Keypair data is invalid: Keypair name contains unsafe characters")


def fingerprint(public_key: str) -> str:
    """MD5 fingerprint of an OpenSSH public key; 400 when the key does not parse."""
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (ValueError, IndexError, TypeError, UnicodeError) as error:
        raise bad("Keypair data is invalid: failed to generate fingerprint") from error
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def generate() -> tuple[str, str]:
    """A new RSA key pair: (OpenSSH public key, PEM private key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return f"{public} Generated-by-Fermion", private


def create(conn: Connection, user_id: str, name: str, public_key: str | None,
           limit: int) -> dict:
    """Insert the key pair; the view Nova answers a create with (private key if made)."""
    check_name(name)
    private = None
    if public_key is None:
        public_key, private = generate()
    fp = fingerprint(public_key)
    if limit >= 0:
        used = len(conn.execute(select(K.c.id).where(K.c.user_id == user_id)).all())
        if used >= limit:
            raise ComputeError(403, "Quota exceeded, too many key pairs.")
    try:
        with conn.begin_nested():
            conn.execute(insert(K), {"user_id": user_id, "name": name, "fingerprint": fp,
                                     "public_key": public_key, "type": "ssh",
                                     "created_at": now()})
    except IntegrityError:
        raise conflict(f"Key pair '{name}' already exists.") from None
    view = {"name": name, "public_key": public_key, "fingerprint": fp, "user_id": user_id}
    if private is not None:
        view["private_key"] = private
    return view


def get(conn: Connection, user_id: str, name: str):
    row = conn.execute(select(K).where(K.c.user_id == user_id, K.c.name == name)).first()
    if row is None:
        raise not_found(f"Keypair {name} not found for user {user_id}")
    return row


def listing(conn: Connection, user_id: str) -> list[dict]:
    rows = conn.execute(select(K).where(K.c.user_id == user_id).order_by(K.c.name)).all()
    return [{"keypair": {"name": r.name, "public_key": r.public_key,
                         "fingerprint": r.fingerprint}} for r in rows]


def detail(row) -> dict:
    return {"name": row.name, "public_key": row.public_key, "fingerprint": row.fingerprint,
            "user_id": row.user_id, "id": row.id, "created_at": row.created_at,
            "updated_at": None, "deleted": False, "deleted_at": None}


def remove(conn: Connection, user_id: str, name: str) -> None:
    get(conn, user_id, name)
    conn.execute(delete(K).where(K.c.user_id == user_id, K.c.name == name))
