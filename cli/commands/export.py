"""`crondeck export k8s|systemd|crontab`: the jobs file for the engines teams already run;
`crondeck export service`: a systemd user unit running the whole schedule (`crondeck run`).

Files go to `--out DIR` (created) or, without it, to stdout (several files each after a
`# ==> NAME <==` line); the service unit goes to ~/.config/systemd/user unless `--out` says
otherwise (`--out -`: stdout). Warnings and refused jobs go to stderr. Exit 0 when every job was
exported, 1 when some were refused (the rest are still written), 2 for a bad jobs file.
A job the target would fire at other instants than crondeck on a DST day is refused too, and
then nothing is written at all (a partial export piped to kubectl would miss the job
silently), unless --allow-dst-differences.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import TextIO

from crondeck.core import (
    Config,
    ExportResult,
    K8sOptions,
    atomic_write_bytes,
    ensure_dir,
    export_crontab,
    export_k8s,
    export_service,
    export_systemd,
    service_unit_name,
)

from ._shared import EXIT_BAD_CONFIG, EXIT_ERROR, add_config_arg, load, read_state


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export jobs as Kubernetes CronJobs, systemd timers or a crontab, or the "
             "scheduler as a systemd user service",
        description="Translate the jobs file for another engine. Each exported job runs one "
        "slot with `crondeck exec JOB`, so gates, timeouts, retries and redaction stay "
        "crondeck's. A job whose schedule the target cannot express exactly is refused "
        "(with why and what to change), never exported to fire at other times. A job that "
        "systemd or Kubernetes would fire at other instants than crondeck on a DST day of the "
        "coming year is refused with those days and a nearby time that fires alike; then "
        "nothing is written (no partial YAML or unit directory) unless "
        "--allow-dst-differences. Exit 0: all "
        "exported; 1: some refused; 2: bad jobs file. `service` instead writes one systemd "
        "user unit that runs `crondeck run` on the jobs file (to ~/.config/systemd/user "
        "unless --out; `--out -` prints it) and says how to enable it.",
    )
    p.add_argument("target", choices=["k8s", "systemd", "crontab", "service"])
    add_config_arg(p)
    p.add_argument("--out", metavar="DIR", help="write the files here (default: stdout)")
    p.add_argument("--crondeck", metavar="PATH",
                   help="the crondeck executable the units/lines run (default: this one, "
                        "by absolute path; `crondeck` in the container for k8s)")
    p.add_argument("--allow-dst-differences", action="store_true",
                   help="systemd, k8s: export jobs that the target fires at other instants "
                        "than crondeck on DST days anyway, each such day stated as a warning "
                        "and in the output (a timer's # NOTE:, a CronJob's crondeck/notes)")
    v = p.add_argument_group("service")
    v.add_argument("--unit", metavar="NAME",
                   help="the unit's file name (default: crondeck-FOLDER.service, after the "
                        "jobs file's folder)")
    k = p.add_argument_group("k8s")
    k.add_argument("--image", help="container image with crondeck installed (required for "
                                   "k8s), e.g. ghcr.io/you/crondeck:1")
    k.add_argument("--namespace", help="namespace of the ConfigMap and CronJobs")
    k.add_argument("--secret", default="crondeck-secrets",
                   help="Secret holding API keys by variable name (default: crondeck-secrets)")
    k.add_argument("--secret-env", action="append", default=[], metavar="VAR",
                   help="also pass VAR from the Secret (repeatable)")
    for kind in ("requests", "limits"):
        k.add_argument(f"--{kind}", metavar="cpu=100m,memory=128Mi", default="",
                       help=f"container resource {kind}")
    p.set_defaults(func=run)


# A Kubernetes quantity: a number with a binary (Ki…Ei), decimal (n u m k M G T P E) or
# exponent suffix; the API server refuses the CronJob otherwise.
QUANTITY = re.compile(r"[+]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?")
RESOURCE_NAME = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")


def _resources(text: str, option: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not key or not value:
            raise ValueError(f"{option} {part!r}: write resource=amount, like "
                             "cpu=100m,memory=128Mi")
        if not RESOURCE_NAME.fullmatch(key):
            raise ValueError(f"{option} {part!r}: {key!r} is not a resource name (cpu, memory, "
                             "ephemeral-storage, or domain/name)")
        if not QUANTITY.fullmatch(value):
            raise ValueError(f"{option} {part!r}: {value!r} is not a Kubernetes quantity: "
                             "write e.g. 100m or 0.5 for cpu, 128Mi or 1Gi for memory")
        out[key] = value
    return out


def _self_command() -> str:
    """This crondeck by absolute path: systemd and cron have a minimal PATH."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "crondeck" and argv0.exists():
        return str(argv0.resolve())
    return shutil.which("crondeck") or "crondeck"


def write_result(result: ExportResult, out_dir: str | None, out: TextIO) -> None:
    if out_dir is None:
        many = len(result.files) > 1
        for name, text in result.files.items():
            if many:
                out.write(f"# ==> {name} <==\n")
            out.write(text)
        return
    directory = ensure_dir(Path(out_dir))
    for name, text in result.files.items():
        atomic_write_bytes(directory / name, text.encode("utf-8"), 0o644)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    config = load(args, "export", err)
    if config is None:
        return EXIT_BAD_CONFIG
    if args.target == "service":
        return _service(args, config, out, err)
    paused = {name for name, st in read_state(config).jobs.items() if st.paused}
    path = str(Path(config.path).resolve())
    try:
        if args.target == "k8s":
            if not args.image:
                raise ValueError("--image is required for k8s: the container image the "
                                 "CronJobs run, with crondeck installed (e.g. --image "
                                 "ghcr.io/you/crondeck:1)")
            opts = K8sOptions(image=args.image, namespace=args.namespace, secret=args.secret,
                              secret_env=list(args.secret_env),
                              requests=_resources(args.requests, "--requests"),
                              limits=_resources(args.limits, "--limits"))
            if args.crondeck:
                opts.command = [args.crondeck]
            result = export_k8s(config, opts, paused=paused,
                                allow_dst_differences=args.allow_dst_differences)
        elif args.target == "systemd":
            result = export_systemd(config, command=[args.crondeck or _self_command()],
                                    config_path=path, paused=paused,
                                    allow_dst_differences=args.allow_dst_differences)
        else:
            result = export_crontab(config, command=[args.crondeck or _self_command()],
                                    config_path=path, paused=paused)
    except ValueError as exc:
        print(f"crondeck export: {exc}", file=err)
        return EXIT_BAD_CONFIG
    dst_refused = [r.job for r in result.refused if r.dst]
    if not dst_refused:
        try:
            write_result(result, args.out, out)
        except OSError as exc:
            if args.out is None:  # stdout refused: said by main
                raise
            print(f"crondeck export: --out {args.out}: cannot write there: "
                  f"{exc.strerror or exc} (give a directory)", file=err)
            return EXIT_ERROR
    for warning in result.warnings:
        print(f"warning: {warning}", file=err)
    for refusal in result.refused:
        print(f"refused: {refusal}", file=err)
    for name in result.disabled:  # enabled = false: crondeck never fires it, nor should cron
        how = "written commented out" if args.target == "crontab" else "not exported"
        print(f"disabled: job {name!r} is switched off (enabled = false): {how}", file=err)
    if dst_refused:
        # A user piping to `kubectl apply` or writing into a unit directory would otherwise
        # get a partial export, with the job silently missing (or its old units kept).
        jobs = ", ".join(repr(j) for j in dst_refused)
        print(f"crondeck export: nothing written: {jobs} would fire at other instants than "
              "crondeck on DST days (see above); change "
              f"{'it' if len(dst_refused) == 1 else 'them'} as suggested, or pass "
              "--allow-dst-differences to export anyway with each such day stated", file=err)
        return EXIT_ERROR
    if args.out is not None:
        names = ", ".join(result.files)
        print(f"crondeck export: wrote {names} to {os.path.abspath(args.out)}", file=err)
        if args.target == "systemd":
            print("install: copy them to ~/.config/systemd/user/, then `systemctl --user "
                  "daemon-reload` and `systemctl --user enable --now` each .timer", file=err)
    return EXIT_ERROR if result.refused else 0


def user_unit_dir() -> Path:
    """Where systemd looks for a user's own units."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "systemd" / "user"


def _service(args: argparse.Namespace, config: Config, out: TextIO, err: TextIO) -> int:
    path = str(Path(config.path).resolve())
    unit = args.unit or service_unit_name(path)
    if not unit.endswith(".service") or "/" in unit or unit.startswith("."):
        print(f"crondeck export: --unit {unit!r}: give a file name ending in .service, like "
              f"{service_unit_name(path)}", file=err)
        return EXIT_BAD_CONFIG
    command = args.crondeck or _self_command()
    beside = Path(sys.executable).with_name("crondeck")  # `python -m crondeck.cli` in a venv
    if not args.crondeck and not os.path.isabs(command) and beside.exists():
        command = str(beside)
    if not os.path.isabs(command):
        print(f"warning: {command!r} is not an absolute path; systemd looks for it only in "
              "its own short PATH: give --crondeck /path/to/crondeck", file=err)
    result = export_service(config, command=[command],
                            config_path=path, path_env=os.environ.get("PATH"), unit=unit)
    if args.out == "-":
        write_result(result, None, out)
        say = err
    else:
        directory = Path(args.out) if args.out else user_unit_dir()
        try:
            write_result(result, str(directory), out)
        except OSError as exc:
            print(f"crondeck export: cannot write {directory / unit}: "
                  f"{exc.strerror or exc}", file=err)
            return EXIT_ERROR
        print(f"crondeck export: wrote {os.path.abspath(directory / unit)}", file=out)
        say = out
    name = unit.removesuffix(".service")
    print(f"""
Start it now and at every login:
  systemctl --user daemon-reload && systemctl --user enable --now {unit}
Keep it running at boot and after you log out:
  loginctl enable-linger "$USER"
Its log:  journalctl --user -u {name} -f
Attach:   crondeck --config {shlex.quote(path)}
(Quit a crondeck console that runs this schedule itself first, or keep its jobs running in
the background when you quit it: one scheduler holds the jobs file at a time.)""", file=say)
    return 0
