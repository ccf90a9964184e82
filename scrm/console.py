"""The `scrm` console script: the Flask CLI of an app built from the environment, with the product's commands."""
from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup
from sqlalchemy import exc as sa_exc

from scrm.app import create_app
from scrm.cli import host_error_line, reason
from scrm.config import ConfigError
from scrm.host import HostError


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False, add_default_commands=True)
def cli() -> None:
    """SCRM: social CRM inside WeCom and DingTalk."""


def main() -> None:
    """Console-script entry: bad configuration, an unreachable database and a host's
    error end in one clear line."""
    try:
        cli.main(prog_name="scrm")
    except ConfigError as exc:
        click.echo(f"scrm: configuration error: {exc}", err=True)
        sys.exit(2)
    except HostError as exc:
        click.echo(f"scrm: {host_error_line(exc)}", err=True)
        sys.exit(1)
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        click.echo(f"scrm: database error: {reason(exc)}", err=True)
        sys.exit(2)
