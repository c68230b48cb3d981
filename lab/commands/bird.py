"""`bird` and `birdc` parser: the BIRD 2 routing daemon, one per namespace (`r1 bird -c r1.conf`), and its
client (`r1 birdc show protocols`), with bird's own options.

Pure: checks the options the way bird's getopt does and names the files they point at (Op.file_args, so a
scenario's `bird -c FILE` is held to its directory like any file argument: lab.confine). Starting, tracking
and stopping the daemon, and finding its control socket for birdc, are the backend's (lab.backend.bird).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lab.commands.base import Context, Op, ParseError

PACKAGE = "bird2"          # the Debian package with bird and birdc
DEFAULT_CONFIG = "/etc/bird/bird.conf"

HELP_BIRD = ("Usage: [NS] bird [-c CONFIG] [-d] [-D DEBUG-FILE] [-f] [-p] [-P PID-FILE] [-s SOCKET] [-u USER] [-g GROUP] "
             "[-l] [-R] [--version]\n"
             "Starts the BIRD routing daemon in namespace NS (one per namespace). lab owns it: it runs in the\n"
             "foreground as lab's child, with its control socket and pid file in the lab temp dir, and stops when\n"
             "its namespace is deleted, when a scenario rebuilds the lab, and when lab exits.\n"
             "  r1 bird -c r1.conf         start it (the config is checked first, as bird -p would)\n"
             "  r1 bird -p -c r1.conf      only check the config\n"
             "  r1 birdc show protocols    ask it (lab finds r1's control socket)\n"
             "  r1 birdc down              stop it")
HELP_BIRDC = ("Usage: [NS] birdc [-s SOCKET] [-v] [-r] [-l] COMMAND...\n"
              "Sends one command to the BIRD daemon of namespace NS (the one lab started there, unless -s names\n"
              "another control socket), e.g.\n"
              "  r1 birdc show protocols     the sessions and their state (BGP: Established)\n"
              "  r1 birdc show route         the routes bird knows, and who taught it each one\n"
              "  r1 birdc show route all     with their attributes (AS path, next hop...)\n"
              "  r1 birdc configure          re-read the config file\n"
              "  r1 birdc down               stop the daemon")

# bird's getopt string is "B:c:dD:ps:P:u:g:flRh": options with a value, and flags
BIRD_VALUE_OPTS = {"c": "config", "D": "debug_file", "P": "pidfile", "s": "socket", "u": "user", "g": "group",
                   "B": "block"}
BIRD_FLAGS = {"d": "debug", "p": "parse_only", "f": "foreground", "l": "local", "R": "recovery", "h": "help"}
BIRDC_FLAGS = {"v": "verbose", "r": "restricted", "l": "local"}
# birdc commands that only look (allowed in a read-only session; others change the daemon)
BIRDC_READ = ("show", "help", "echo", "eval", "quit", "exit", "?")
BIRDC_SHOW = ("protocols", "route", "status", "interfaces", "symbols", "memory", "ospf", "bfd")   # completion
BIRDC_COMMANDS = ("configure", "down", "enable", "disable", "restart", "reload", "debug", "dump", "graceful",
                  "restrict", "mrtdump", "timeformat")


@dataclass(frozen=True)
class BirdOp(Op):
    """Start (or, with -p, check the config of) the BIRD daemon in a namespace."""
    file_args: ClassVar[tuple[str, ...]] = ("config", "debug_file", "pidfile", "socket")
    config: str | None = None
    debug_file: str | None = None
    pidfile: str | None = None
    socket: str | None = None
    user: str | None = None
    group: str | None = None
    block: str | None = None
    debug: bool = False
    parse_only: bool = False
    recovery: bool = False
    version: bool = False
    help: bool = False

    @property
    def mutates(self) -> bool:
        return not (self.parse_only or self.version or self.help)


@dataclass(frozen=True)
class BirdcOp(Op):
    """One birdc command to the daemon of a namespace."""
    file_args: ClassVar[tuple[str, ...]] = ("socket",)
    socket: str | None = None
    verbose: bool = False
    restricted: bool = False
    command: tuple[str, ...] = ()

    @property
    def mutates(self) -> bool:
        """False for `show ...` and the like, also abbreviated (`sh pro`) as bird's CLI allows."""
        if not self.command:
            return True
        meant = [w for w in BIRDC_COMMANDS + BIRDC_READ if w.startswith(self.command[0])]
        return not meant or not all(w in BIRDC_READ for w in meant)


def _getopt(prog: str, argv: list[str], value_opts: dict[str, str], flags: dict[str, str],
            usage: str) -> tuple[dict, list[str]]:
    """getopt(3) as bird and birdc use it: clustered flags (-fp), values attached (-cFILE) or next; options
    stop at the first word that is not one (birdc's command) or at `--`."""
    got: dict = {}
    i = 0
    while i < len(argv):
        w = argv[i]
        if w == "--":
            i += 1
            break
        if w in ("--version", "--help") and prog == "bird":
            got[w[2:]] = True
            i += 1
            continue
        if not w.startswith("-") or w == "-":
            break
        if w.startswith("--"):
            raise ParseError(f"{prog}: unrecognized option '{w}'", usage)
        j = 1
        while j < len(w):
            o = w[j]
            if o in value_opts:
                val = w[j + 1:]
                if not val:
                    i += 1
                    if i >= len(argv):
                        raise ParseError(f"{prog}: option requires an argument -- '{o}'", usage)
                    val = argv[i]
                got[value_opts[o]] = val
                break
            if o in flags:
                got[flags[o]] = True
                j += 1
                continue
            raise ParseError(f"{prog}: invalid option -- '{o}'", usage)
        i += 1
    return got, argv[i:]


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    if head == "bird":
        usage = HELP_BIRD.splitlines()[0]
        got, rest = _getopt("bird", argv, BIRD_VALUE_OPTS, BIRD_FLAGS, usage)
        if rest:
            raise ParseError(f'bird: unexpected argument "{rest[0]}"', usage)
        if got.pop("help", False):
            from lab.commands.ip import HelpOp

            return HelpOp(ns, text=HELP_BIRD)
        if got.pop("local", False):       # -l: bird.conf and bird.ctl in the current directory
            got.setdefault("config", "bird.conf")
            got.setdefault("socket", "bird.ctl")
        got.pop("foreground", None)       # lab always runs it in the foreground, as its own child
        for key in ("config", "debug_file", "pidfile", "socket", "user", "group"):
            if key in got and not got[key]:
                raise ParseError(f"bird: -{next(k for k, v in BIRD_VALUE_OPTS.items() if v == key)} needs a value",
                                 usage)
        if "block" in got and not got["block"].isdigit():
            raise ParseError(f'bird: -B needs a number (a power of two of the memory block size), not "{got["block"]}"')
        return BirdOp(ns, **got)
    usage = HELP_BIRDC.splitlines()[0]
    got, rest = _getopt("birdc", argv, {"s": "socket"}, BIRDC_FLAGS, usage)
    if got.pop("local", False):
        got.setdefault("socket", "bird.ctl")
    if not rest:
        raise ParseError("birdc: say which command to send: lab runs birdc one command at a time",
                         f"Try: {ns + ' ' if ns else ''}birdc show protocols (birdc help lists its commands)")
    return BirdcOp(ns, command=tuple(rest), **got)
