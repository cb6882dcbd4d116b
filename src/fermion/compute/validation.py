"""Request bodies checked against JSON schemas, with Nova's 400 messages.

Nova validates every body with jsonschema and words the failure as
``Invalid input for field/attribute <name>. Value: <value>. <jsonschema's message>``; the
schemas here are those of microversion 2.1 for what Fermion serves (server create, key pair
create, the console output action). Pure: no store, no network.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import uuid
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from fermion.compute.http import ComputeError, bad

INVALID_NAME = ("An invalid 'name' value was provided. The name must be: printable "
                "characters. Can not start or end with whitespace.")
VALUE_SHOWN = 200  # characters of the offending value quoted in a message

NAME = {"type": "string", "minLength": 1, "maxLength": 255, "format": "name"}
BOOLEAN = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No",
                    "no"]}
POSITIVE_INTEGER = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
                    "minLength": 1}
METADATA = {"type": "object",
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                                  "maxLength": 255}},
            "additionalProperties": False}
HINTS = {"type": "object", "additionalProperties": True}
BDM_V2 = {"type": "object",
          "properties": {"source_type": {"type": "string",
                                         "enum": ["volume", "image", "snapshot", "blank"]},
                         "destination_type": {"type": "string", "enum": ["local", "volume"]},
                         "uuid": {"type": "string", "minLength": 1, "maxLength": 255},
                         "boot_index": {"type": ["integer", "string", "null"],
                                        "pattern": "^-?[0-9]+$"},
                         "delete_on_termination": BOOLEAN},
          "additionalProperties": True}

SERVER_CREATE = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": NAME,
                "imageRef": {"type": "string", "maxLength": 255},
                "flavorRef": {"type": ["string", "integer"], "minLength": 1},
                "adminPass": {"type": "string"},
                "metadata": METADATA,
                "networks": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"fixed_ip": {"type": "string", "format": "ip-address"},
                                   "port": {"type": ["string", "null"], "format": "uuid"},
                                   "uuid": {"type": "string"}},
                    "additionalProperties": False}},
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
                "accessIPv4": {"type": "string", "format": "ipv4"},
                "accessIPv6": {"type": "string", "format": "ipv6"},
                "personality": {"type": "array", "maxItems": 0},
                "availability_zone": NAME,
                "block_device_mapping": {"type": "array", "maxItems": 0},
                "block_device_mapping_v2": {"type": "array", "items": BDM_V2},
                "config_drive": BOOLEAN,
                "key_name": NAME,
                "min_count": POSITIVE_INTEGER,
                "max_count": POSITIVE_INTEGER,
                "return_reservation_id": BOOLEAN,
                "security_groups": {"type": "array", "items": {
                    "type": "object", "properties": {"name": NAME},
                    "additionalProperties": False}},
                "user_data": {"type": "string", "format": "base64", "maxLength": 65535},
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": HINTS,
        "OS-SCH-HNT:scheduler_hints": HINTS,
    },
    "required": ["server"],
    "additionalProperties": False,
}

KEYPAIR_CREATE = {
    "type": "object",
    "properties": {"keypair": {
        "type": "object",
        "properties": {"name": NAME, "public_key": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False}},
    "required": ["keypair"],
    "additionalProperties": False,
}

CONSOLE_OUTPUT = {
    "type": "object",
    "properties": {"os-getConsoleOutput": {
        "type": "object",
        "properties": {"length": {"type": ["integer", "string", "null"],
                                  "pattern": "^-?[0-9]+$", "minimum": -1}},
        "additionalProperties": False}},
    "required": ["os-getConsoleOutput"],
    "additionalProperties": False,
}

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("name")
def _name(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return value == value.strip() and value.isprintable()


@FORMATS.checks("base64")
def _base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


@FORMATS.checks("uuid")
def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@FORMATS.checks("ip-address")
def _ip(value: object) -> bool:
    return _is_ip(value, (4, 6))


@FORMATS.checks("ipv4")
def _ipv4(value: object) -> bool:
    return _is_ip(value, (4,))


@FORMATS.checks("ipv6")
def _ipv6(value: object) -> bool:
    return _is_ip(value, (6,))


def _is_ip(value: object, versions: tuple[int, ...]) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return ipaddress.ip_address(value).version in versions
    except ValueError:
        return False


_VALIDATORS = {id(s): jsonschema.Draft4Validator(s, format_checker=FORMATS)
               for s in (SERVER_CREATE, KEYPAIR_CREATE, CONSOLE_OUTPUT)}


def validate(schema: dict, body: Any) -> None:
    """Raise Nova's 400 for the first (best) way ``body`` breaks ``schema``."""
    error = best_match(_VALIDATORS[id(schema)].iter_errors(body))
    if error is not None:
        raise bad(message(error))


def message(error: jsonschema.ValidationError) -> str:
    if error.validator == "format" and error.validator_value == "name":
        return INVALID_NAME
    if not error.path:
        return error.message
    shown = str(error.instance)
    if len(shown) > VALUE_SHOWN:
        shown = shown[:VALUE_SHOWN] + "..."
    return (f"Invalid input for field/attribute {error.path[-1]}. Value: {shown}. "
            f"{_short(error.message)}")


def _short(text: str) -> str:
    """jsonschema quotes the whole value ("'AAAA…' is too long"); keep it readable."""
    if len(text) <= VALUE_SHOWN + 40:
        return text
    head, _, tail = text.rpartition("' ")
    return f"{head[:VALUE_SHOWN]}...' {tail}" if tail else text[:VALUE_SHOWN] + "..."


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "on", "yes")


def check(condition: bool, msg: str) -> None:
    if not condition:
        raise ComputeError(400, msg)
