"""`flask ivr …`: the hotline prompts (status, render ahead of time, an official's recording)."""
import os

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db
from gateway.ivr import prompts
from gateway.models import Area

ivr_cli = AppGroup("ivr", help="The hotline and voice calls.")


def _commune(db, code):
    if not code:
        return None
    commune = db.scalar(select(Area).where(Area.level == "commune", Area.code == code.upper()))
    if commune is None:
        raise click.ClickException(f"No commune with code {code!r}; `flask areas list` shows them.")
    return commune


@ivr_cli.command("prompts")
@click.option("--render", is_flag=True, help="Queue every prompt not rendered yet (do this before going live).")
@click.option("--commune", "code", help="A commune's code: shows its own recordings too.")
def prompts_command(render, code):
    """List every hotline prompt and whether its audio is ready; --render queues the missing ones."""
    db = get_db()
    commune = _commune(db, code)
    if render:
        assets = prompts.render_all(db, commune)
        click.echo(f"{len(assets)} prompts; rendering queued for those not ready (workers render them).")
    counts = {}
    for key, text, state, asset in prompts.status(db, commune):
        counts[state] = counts.get(state, 0) + 1
        seconds = f"{asset.duration_ms / 1000:.1f}s" if asset is not None and asset.duration_ms else "-"
        click.echo(f"{key:<22} {state:<9} {seconds:>6}  {text[:60]}")
    click.echo(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    if commune is not None:
        from gateway import languages

        for language, name in languages.of_area(commune).items():
            if language != languages.VI:
                recorded = languages.prompt_recordings(commune, language)
                click.echo(f"{name} ({language}): {len(recorded)} recorded" +
                           (f": {', '.join(sorted(recorded))}" if recorded else " (Vietnamese is heard instead)"))


@ivr_cli.command("record-prompt")
@click.argument("key")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--commune", "code", required=True, help="The commune whose hotline uses this recording.")
@click.option("--language", default="vi", show_default=True,
              help="The language it is spoken in: one the commune added (`areas settings --languages`).")
def record_prompt_command(key, path, code, language):
    """Use an official's recording (PATH: MP3, WAV, M4A…) for prompt KEY on a commune's hotline."""
    from gateway import languages

    from audio.uploads import UploadRejected

    from gateway.media.assets import store_upload

    db = get_db()
    commune = _commune(db, code)
    if key not in prompts.catalogue(db, commune):
        raise click.ClickException(f"Unknown prompt {key!r}; `flask ivr prompts` lists the keys.")
    spoken = languages.of_area(commune)
    if languages.find(language, spoken) is None:
        raise click.ClickException(f"{commune.name} has no language {language!r}; it has: {', '.join(spoken)}.")
    language = languages.find(language, spoken)
    with open(path, "rb") as f:
        data = f.read()
    try:
        asset = store_upload(db, os.path.basename(path), data, kind="prompt")
    except UploadRejected as exc:
        raise click.ClickException(exc.message) from None
    if language == languages.VI:
        prompts.set_recording(db, commune, key, asset)
    else:
        languages.set_prompt_recording(db, commune, language, key, asset)
    click.echo(f"Prompt {key} ({language}) of {commune.name} is now recording asset {asset.id} ({asset.status}).")
