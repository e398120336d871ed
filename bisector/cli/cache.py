"""`bisector cache info|clear`: where the cache is, how big, and emptying it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import CacheDir, Command, Group

cache_app = typer.Typer(name="cache", cls=Group, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                        help="Where bisector's cache is, how big it is; clear it.")
app.add_typer(cache_app)


def _folder(cache_dir: Path | None) -> Path:
    from ..config import default_cache_dir

    return Path(cache_dir) if cache_dir else default_cache_dir()  # as typed, never expanded


@cache_app.command("info", cls=Command)
def info(cache_dir: CacheDir = None) -> None:
    """Where the cache is, how big, how many entries."""
    from ..store import cache

    found = cache.info(_folder(cache_dir))
    typer.echo(f"cache:    {found.directory}" + ("" if found.directory.exists() else " (not created yet)"))
    typer.echo(f"size:     {_megabytes(found.total_bytes)}; compile caches "
               f"{_megabytes(found.compile_bytes)}; demo port {_megabytes(found.demo_bytes)}")
    typer.echo(f"entries:  {found.reference_images} reference images, {found.scores} scores, "
               f"{found.built_programs} built C programs (the C twin included)")
    if found.oldest is not None:
        days = (time.time() - found.oldest) / 86400
        typer.echo(f"oldest:   {time.strftime('%Y-%m-%d', time.localtime(found.oldest))} ({days:.0f} days ago)")
    if found.notice:
        typer.echo(f"bisector: note: {found.notice}", err=True)


@cache_app.command("clear", cls=Command, short_help="Empty the cache (or only old entries).")
def clear(
    cache_dir: CacheDir = None,
    older_than: Annotated[Optional[float], typer.Option(
        "--older-than", min=0, metavar="DAYS", help="Only entries created more than this many DAYS ago.")] = None,
) -> None:
    """Remove cached images, scores, built C programs, compile caches and the demo port (or only
    old ones). The C twin's builds go too unless --cache-dir names another folder."""
    from ..errors import BisectorError
    from ..store import cache

    folder = _folder(cache_dir)
    try:
        removed = cache.clear(folder, None if older_than is None else older_than * 86400,
                              twin=cache_dir is None)
    except OSError as exc:
        raise BisectorError(f"cannot clear the cache {folder}: {exc}",
                            hint="check the folder's permissions") from None
    typer.echo(f"removed {removed} entries from {folder}")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB ({size:,} bytes)"
