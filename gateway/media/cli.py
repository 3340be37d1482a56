"""`python -m gateway audio …`: try the configured engine, list assets, render failed ones again."""
import os
import tempfile

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import AudioAsset

audio_cli = AppGroup("audio", help="Speech and audio files.")


@audio_cli.command("check")
@click.argument("text", default="Xin chào bà con. Đây là thử nghiệm loa lúc 8h30 ngày 14/8.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also copy the MP3 here.")
def check_command(text, out):
    """Render TEXT with the configured engine and show what came out (nothing is stored)."""
    import shutil

    import audio
    from gateway.media import settings
    from gateway.media.assets import text_spec

    config = current_app.config
    click.echo(f"Spoken form: {audio.verbalize(text)}")
    spec = text_spec(config, text, "prompt")
    spec.engine_options.update(settings.runtime_options(config, spec.engine))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r = audio.render(spec, tmp)
        except audio.EngineError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Engine {r.engine} ({r.voice}): {r.duration_ms / 1000:.1f} s, "
                   f"synthesis {r.synthesis_seconds:.2f} s")
        click.echo(f"MP3 {r.loudness_lufs:.1f} LUFS, {r.true_peak_dbtp:.1f} dBTP, {r.mp3_bytes} bytes")
        click.echo(f"Phone WAV {r.phone_loudness_lufs:.1f} LUFS, {r.phone_true_peak_dbtp:.1f} dBTP")
        if r.fallback_used:
            click.echo(f"FALLBACK: {r.fallback_reason}")
        if out:
            shutil.copyfile(os.path.join(tmp, r.mp3_path), out)
            click.echo(f"Wrote {out}")


@audio_cli.command("list")
@click.option("--status", type=click.Choice(["pending", "ready", "failed"]))
def list_command(status):
    """List audio assets with their state."""
    query = select(AudioAsset).order_by(AudioAsset.id)
    if status:
        query = query.where(AudioAsset.status == status)
    from gateway.cli import echo_lines

    def line(a):
        seconds = f"{a.duration_ms / 1000:.1f}s" if a.duration_ms else "-"
        extra = " fallback" if a.fallback_used else ""
        return f"{a.id:>5} {a.kind:<12} {a.status:<8} {seconds:>7} {a.engine or '-':<7}{extra} {a.error or ''}".rstrip()

    echo_lines(line(a) for a in get_db().scalars(query))


@audio_cli.command("rerender")
@click.option("--failed", "which", flag_value="failed", default=True, help="Assets that failed (default).")
@click.option("--fallback", "which", flag_value="fallback", help="Assets the fallback engine spoke.")
def rerender_command(which):
    """Queue failed (or fallback-spoken) assets for rendering again."""
    from gateway.media.assets import rerender

    db = get_db()
    condition = AudioAsset.status == "failed" if which == "failed" else AudioAsset.fallback_used.is_(True)
    assets = list(db.scalars(select(AudioAsset).where(condition)))
    for asset in assets:
        rerender(db, asset)
    click.echo(f"Queued {len(assets)} asset(s).")
