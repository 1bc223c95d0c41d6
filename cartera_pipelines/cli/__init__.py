"""The ``cartera`` command: doctor, sandbox, api-keys, demo."""

from __future__ import annotations

import click

from cartera_pipelines.cli.doctor import doctor
from cartera_pipelines.cli.sandbox import sandbox
from cartera_pipelines.settings import SettingsError


class _Cartera(click.Group):
    """A variable a command needs and finds unset (production mode) or unusable is one line, not a
    traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Cartera, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate cartera_pipelines: check configuration, build the sandbox, manage API keys."""


main.add_command(doctor)
main.add_command(sandbox)

_OPTIONAL_COMMANDS = (
    ("cartera_pipelines.cli.api_keys", "api_keys"),
    ("cartera_pipelines.cli.demo", "demo"),
    ("cartera_pipelines.cli.pools", "pools"),
)
for _module, _name in _OPTIONAL_COMMANDS:
    try:
        main.add_command(getattr(__import__(_module, fromlist=[_name]), _name))
    except ModuleNotFoundError as _exc:  # a family's command not written yet
        if _exc.name != _module:
            raise
