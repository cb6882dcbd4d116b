"""The ``fermion`` command: one entry point for the server and its tools.

  fermion server [--config-file FILE]...   the Networking API on bind_host:bind_port
  fermion db upgrade [--config-file FILE]...   migrate the database to the newest schema
"""

from __future__ import annotations

import argparse
import logging
import sys

from fermion import __version__
from fermion.config import ConfigError, load


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", action="append", default=[], metavar="FILE",
                        help="INI file with Neutron's option names (neutron.conf, "
                             "ml2_conf.ini, ...); repeatable, later files win")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fermion", description="Fermion: a Neutron-compatible networking service.")
    parser.add_argument("--version", action="version", version=f"fermion {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = sub.add_parser("server", help="run the Networking API server",
                            description="Serve the OpenStack Networking API v2.0 on "
                                        "[DEFAULT] bind_host:bind_port (127.0.0.1:9696). The "
                                        "database ([database] connection, SQLite by default) "
                                        "is migrated to the newest schema at start.")
    _config_args(server)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    _config_args(upgrade)

    args = parser.parse_args(argv)
    try:
        conf = load(args.config_file)
    except ConfigError as error:
        print(f"fermion: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if conf.get("DEFAULT", "debug") else logging.INFO,
        filename=conf.get("DEFAULT", "log_file") or None,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "server":
        return _serve(conf)
    if args.command == "db":
        from fermion.db.migrate import upgrade as do_upgrade

        do_upgrade(conf.get("database", "connection"))
        print("database is at the newest schema")
        return 0
    return 1


def _serve(conf) -> int:
    import uvicorn

    from fermion.api.app import create_app

    app = create_app(conf)
    uvicorn.run(app, host=conf.get("DEFAULT", "bind_host"), port=conf.get("DEFAULT", "bind_port"),
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
