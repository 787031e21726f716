"""init and status."""

from __future__ import annotations

from rich.table import Table

from pseudovault.api.cli._base import (
    JsonOpt,
    app,
    emit,
    flatten,
    load_settings,
    open_from_env,
    out,
    prompt_passphrase,
    run_command,
)


@app.command()
def init(as_json: JsonOpt = False) -> None:
    """Create the vault on the configured stores (safe to run again)."""
    from pseudovault.vault.bootstrap import init_vault
    from pseudovault.vault.config import redact_url

    with run_command():
        settings = load_settings()
        result = init_vault(settings, prompt_passphrase)
        try:
            data = {
                "created": result.created,
                "home": str(settings.home_dir),
                "keyring": str(settings.keyring_path) if settings.kek_uri.kind == "keyring" else None,
                "kek": str(settings.kek_uri),
                "data_store": redact_url(settings.resolved_data_url),
                "key_store": redact_url(settings.resolved_keys_url),
            }
        finally:
            result.vault.close()

        def render() -> None:
            verb = "Initialised" if result.created else "Already initialised:"
            out.print(f"{verb} vault in {data['home']}")
            out.print(f"  root key    {data['kek']}")
            out.print(f"  data store  {data['data_store']}")
            out.print(f"  key store   {data['key_store']}")

        emit(data, as_json, render)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Stores, key versions and counts (never key material)."""
    with run_command(), open_from_env() as vault:
        data = vault.status()

        def render() -> None:
            table = Table(show_header=False, box=None)
            for key, value in flatten(data):
                table.add_row(key, str(value))
            out.print(table)

        emit(data, as_json, render)

