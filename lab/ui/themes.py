"""Theme files (TOML) -> Textual themes plus the lab's colour meanings.

A theme file has `name`, `dark`, a `[textual]` table (Textual theme colours) and a `[meaning]` table
(up/down, accept/drop, NAT, ... : what colours mean in the panes, the same in every theme). Meanings are
also exported as CSS variables `$lab-<meaning>`. Files are looked up as a path, then by name in
$LAB_THEMES, ~/.config/lab/themes and the project's themes/ directory.
Leaves applying the theme to lab.ui.app.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.theme import Theme

PROJECT_THEMES = Path(__file__).resolve().parent.parent.parent / "themes"
if not PROJECT_THEMES.is_dir():   # an installed wheel carries them as lab/_themes
    PROJECT_THEMES = Path(__file__).resolve().parent.parent / "_themes"
DEFAULT = "dark"
MEANINGS = ("up", "down", "unknown", "accept", "drop", "reject", "nat", "log", "jump", "namespace", "bridge",
            "address", "mac", "muted", "connected", "via", "default", "changed", "selected")
_FALLBACK = {"up": "#3fb950", "down": "#f85149", "unknown": "#d29922", "accept": "#3fb950", "drop": "#f85149",
             "reject": "#ff7b72", "nat": "#d2a8ff", "log": "#79c0ff", "jump": "#58a6ff", "namespace": "#ffa657",
             "bridge": "#39c5cf", "address": "#7ee787", "mac": "#8b949e", "muted": "#8b949e",
             "connected": "#79c0ff", "via": "#e3b341", "default": "#ff7b72", "changed": "#5a4a00",
             "selected": "#1f6feb"}


class ThemeError(Exception):
    pass


@dataclass
class LabTheme:
    name: str
    dark: bool = True
    textual: dict[str, str] = field(default_factory=dict)
    meaning: dict[str, str] = field(default_factory=lambda: dict(_FALLBACK))
    path: str | None = None

    @property
    def textual_name(self) -> str:
        return f"lab-{self.name}"

    def to_textual(self) -> Theme:
        t = dict(self.textual)
        primary = t.pop("primary", "#58a6ff")
        allowed = {"secondary", "warning", "error", "success", "accent", "foreground", "background", "surface",
                   "panel", "boost"}
        colours: dict[str, Any] = {k: v for k, v in t.items() if k in allowed}   # str: only the colour fields
        return Theme(name=self.textual_name, primary=primary, dark=self.dark,
                     variables={f"lab-{k}": v for k, v in self.meaning.items()}, **colours)

    def color(self, meaning: str) -> str:
        return self.meaning.get(meaning) or _FALLBACK.get(meaning, "white")


def theme_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("LAB_THEMES"):
        dirs.append(Path(os.environ["LAB_THEMES"]))
    dirs.append(Path(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config"))) / "lab" / "themes")
    dirs.append(PROJECT_THEMES)
    return dirs


def parse_theme(text: str, path: str | None = None, default_name: str = "custom") -> LabTheme:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ThemeError(f"{path or 'theme'}: {e}") from None
    meaning = dict(_FALLBACK)
    meaning.update({k: str(v) for k, v in (data.get("meaning") or {}).items()})
    return LabTheme(name=str(data.get("name") or default_name), dark=bool(data.get("dark", True)),
                    textual={k: str(v) for k, v in (data.get("textual") or {}).items()}, meaning=meaning,
                    path=path)


def load_theme(name_or_path: str | None) -> LabTheme:
    """A theme by name (dark, light, projector, or a user's) or by file path. Raises ThemeError."""
    key = name_or_path or DEFAULT
    p = Path(key).expanduser()
    if p.suffix == ".toml" or os.sep in key:
        if not p.is_file():
            raise ThemeError(f'Theme file "{key}" not found.')
        return parse_theme(p.read_text(), str(p), p.stem)
    for d in theme_dirs():
        f = d / f"{key}.toml"
        if f.is_file():
            return parse_theme(f.read_text(), str(f), key)
    if key == DEFAULT:
        return LabTheme(name=DEFAULT)
    raise ThemeError(f'Unknown theme "{key}". Available: {", ".join(available_themes())}.')


def available_themes() -> list[str]:
    names: list[str] = []
    for d in theme_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                if f.stem not in names:
                    names.append(f.stem)
    if DEFAULT not in names:
        names.insert(0, DEFAULT)
    order = {"dark": 0, "light": 1, "projector": 2}
    return sorted(names, key=lambda n: (order.get(n, 9), n))
